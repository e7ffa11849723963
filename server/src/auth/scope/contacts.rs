//! Contacts, the catalogue, segments and imports as one tenant sees them: every read bound to
//! the tenant, every record written stamped with it, every record read checked against it.

use std::collections::HashSet;

use switchboard_shared::contacts::{AttributeDef, ConsentEvidence, Filter};
use switchboard_shared::{ContactId, ImportId, SegmentId};

use super::TenantScope;
use crate::domain::*;
use crate::store::{ContactQuery, Cursor, Page, StoreResult};

impl TenantScope {
    /// The id a contact first known by `identity` (number digits or BSUID) has.
    pub fn contact_id(&self, identity: &str) -> ContactId {
        self.store.id_keys().contact_id(&self.tenant, identity)
    }

    pub async fn contact(&self, id: &ContactId) -> StoreResult<Option<ContactRecord>> {
        Ok(
            self.mine(self.store.get_contact(&self.tenant, id).await?, |c| {
                &c.tenant
            }),
        )
    }

    /// The contact a `wa_id` or BSUID belongs to.
    pub async fn contact_of(&self, customer: &str) -> StoreResult<Option<ContactRecord>> {
        Ok(self.mine(
            self.store.find_contact(&self.tenant, customer).await?,
            |c| &c.tenant,
        ))
    }

    pub async fn contacts_by_phones(&self, phones: &[String]) -> StoreResult<Vec<ContactRecord>> {
        Ok(self
            .store
            .contacts_by_phones(&self.tenant, phones)
            .await?
            .into_iter()
            .filter(|c| c.tenant == self.tenant)
            .collect())
    }

    pub async fn put_contact(
        &self,
        mut contact: ContactRecord,
        consent: Option<&ConsentEvidence>,
        audit: Option<AuditRecord>,
    ) -> StoreResult<ContactRecord> {
        contact.tenant = self.tenant.clone();
        let audit = audit.map(|a| self.bind(a));
        self.store
            .put_contact(&contact, consent, audit.as_ref())
            .await?;
        Ok(contact)
    }

    pub async fn contacts(
        &self,
        query: &ContactQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>> {
        let mut page = self
            .store
            .list_contacts(&self.tenant, query, cursor, limit)
            .await?;
        page.items.retain(|c| c.tenant == self.tenant);
        Ok(page)
    }

    pub async fn count_segment(
        &self,
        filter: &Filter,
        now: UnixMillis,
        open: &HashSet<String>,
    ) -> StoreResult<u64> {
        self.store
            .count_segment(&self.tenant, filter, now, open)
            .await
    }

    pub async fn segment_members(
        &self,
        filter: &Filter,
        now: UnixMillis,
        open: &HashSet<String>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>> {
        let mut page = self
            .store
            .segment_members(&self.tenant, filter, now, open, cursor, limit)
            .await?;
        page.items.retain(|c| c.tenant == self.tenant);
        Ok(page)
    }

    pub async fn delete_contact(
        &self,
        id: &ContactId,
        audit: Option<AuditRecord>,
    ) -> StoreResult<bool> {
        let audit = audit.map(|a| self.bind(a));
        self.store
            .delete_contact(&self.tenant, id, audit.as_ref())
            .await
    }

    pub async fn merge_contacts(
        &self,
        into: &ContactRecord,
        from: &ContactRecord,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        if into.tenant != self.tenant || from.tenant != self.tenant {
            return Err(crate::store::StoreError::Invalid(
                "not this tenant's contacts".into(),
            ));
        }
        self.store
            .merge_contacts(into, from, &self.bind(audit))
            .await
    }

    pub async fn erase_contact(
        &self,
        contact: &ContactRecord,
        audit: AuditRecord,
    ) -> StoreResult<ErasureReceipt> {
        if contact.tenant != self.tenant {
            return Err(crate::store::StoreError::Invalid(
                "not this tenant's contact".into(),
            ));
        }
        self.store.erase_contact(contact, &self.bind(audit)).await
    }

    pub async fn add_contact_note(&self, mut note: ContactNoteRecord) -> StoreResult<()> {
        note.tenant = self.tenant.clone();
        self.store.add_contact_note(&note).await
    }

    pub async fn contact_notes(
        &self,
        contact: &ContactId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactNoteRecord>> {
        self.store
            .contact_notes(&self.tenant, contact, cursor, limit)
            .await
    }

    pub async fn consent_history(
        &self,
        contact: &ContactId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ConsentEvidence>> {
        self.store
            .consent_history(&self.tenant, contact, cursor, limit)
            .await
    }

    pub async fn tags(&self) -> StoreResult<Vec<TagRecord>> {
        self.store.list_tags(&self.tenant).await
    }

    pub async fn put_tag(&self, mut tag: TagRecord, audit: Option<AuditRecord>) -> StoreResult<()> {
        tag.tenant = self.tenant.clone();
        let audit = audit.map(|a| self.bind(a));
        self.store.put_tag(&tag, audit.as_ref()).await
    }

    pub async fn delete_tag(&self, name: &str, audit: AuditRecord) -> StoreResult<bool> {
        self.store
            .delete_tag(&self.tenant, name, &self.bind(audit))
            .await
    }

    pub async fn attributes(&self) -> StoreResult<Vec<AttributeDef>> {
        self.store.list_attributes(&self.tenant).await
    }

    pub async fn put_attribute(&self, def: &AttributeDef, audit: AuditRecord) -> StoreResult<()> {
        self.store
            .put_attribute(&self.tenant, def, &self.bind(audit))
            .await
    }

    pub async fn delete_attribute(&self, key: &str, audit: AuditRecord) -> StoreResult<bool> {
        self.store
            .delete_attribute(&self.tenant, key, &self.bind(audit))
            .await
    }

    pub async fn segments(&self) -> StoreResult<Vec<SegmentRecord>> {
        self.store.list_segments(&self.tenant).await
    }

    pub async fn segment(&self, id: &SegmentId) -> StoreResult<Option<SegmentRecord>> {
        Ok(
            self.mine(self.store.get_segment(&self.tenant, id).await?, |s| {
                &s.tenant
            }),
        )
    }

    pub async fn put_segment(
        &self,
        mut segment: SegmentRecord,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        segment.tenant = self.tenant.clone();
        self.store.put_segment(&segment, &self.bind(audit)).await
    }

    pub async fn delete_segment(&self, id: &SegmentId, audit: AuditRecord) -> StoreResult<bool> {
        self.store
            .delete_segment(&self.tenant, id, &self.bind(audit))
            .await
    }

    pub async fn put_import(&self, mut import: ImportRecord) -> StoreResult<ImportRecord> {
        import.tenant = self.tenant.clone();
        self.store.put_import(&import).await?;
        Ok(import)
    }

    pub async fn import(&self, id: &ImportId) -> StoreResult<Option<ImportRecord>> {
        Ok(
            self.mine(self.store.get_import(&self.tenant, id).await?, |i| {
                &i.tenant
            }),
        )
    }

    pub async fn imports(&self) -> StoreResult<Vec<ImportRecord>> {
        self.store.list_imports(&self.tenant).await
    }

    /// Writes one chunk of an import (see `ImportStore::import_chunk`).
    pub async fn import_chunk(
        &self,
        import: &ImportRecord,
        contacts: &[ContactRecord],
        undo: &[UndoEntry],
        rejected: &[RejectedRow],
    ) -> StoreResult<()> {
        if import.tenant != self.tenant || contacts.iter().any(|c| c.tenant != self.tenant) {
            return Err(crate::store::StoreError::Invalid(
                "not this tenant's import".into(),
            ));
        }
        self.store
            .import_chunk(import, contacts, undo, rejected)
            .await
    }

    pub async fn import_undo_log(
        &self,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UndoEntry>> {
        self.store
            .import_undo_log(&self.tenant, import, cursor, limit)
            .await
    }

    pub async fn rejected_rows(
        &self,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RejectedRow>> {
        self.store
            .rejected_rows(&self.tenant, import, cursor, limit)
            .await
    }

    /// The customers (`wa_id`s and BSUIDs) with a queued or assigned conversation now, for
    /// segment tests of open conversations.
    pub async fn open_customers(&self) -> StoreResult<HashSet<String>> {
        let mut out = HashSet::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .open_threads(&self.tenant, cursor.as_ref(), crate::store::MAX_PAGE)
                .await?;
            out.extend(page.items.into_iter().map(|t| t.customer.into_string()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }
}
