//! Contacts on ScyllaDB: records in 16 partitions per tenant, found by id; index rows for the
//! number and BSUID (`contact_ids_by_identity`), for prefix search and for tags, kept in step
//! by `put` (read the stored contact, write the new rows, remove the stale ones: each step an
//! upsert or a delete, so a retry converges). Segment counts and members read the tenant's
//! partitions page by page and test each contact with [`crate::domain::matches`].

mod erasure;
mod search;

use std::collections::HashSet;

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::contacts::{ConsentEvidence, ConsentSource, Filter, Marketing};
use switchboard_shared::{ContactId, TenantId, UserId, WaId};

use self::search::search_terms;
use super::{unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, decode_list, encode_list, ContactQuery, ContactStore};
use crate::store::{DirectoryStore, StoreError, StoreResult};

/// Partitions per tenant for contacts.
const SHARDS: i32 = 16;
/// Rows a segment scan reads per request.
const SCAN_PAGE: i32 = 1000;

fn shard_of(id: &ContactId) -> i32 {
    id.as_str()
        .strip_prefix("ct_")
        .and_then(|hex| hex.chars().next())
        .and_then(|c| c.to_digit(16))
        .map_or(0, |d| d as i32 % SHARDS)
}

row! {
    /// A contact (`contacts_by_id`): tags as a JSON list, attributes and consent as JSON.
    struct ContactRow {
        tenant: String,
        shard: i32,
        id: String,
        phone: Option<String>,
        bsuid: Option<String>,
        username: Option<String>,
        name: Option<String>,
        profile_name: Option<String>,
        country: Option<String>,
        tags: String,
        attributes: String,
        marketing: String,
        consent: Option<String>,
        last_inbound_at: Option<i64>,
        last_outbound_at: Option<i64>,
        created_at: i64,
        updated_at: i64,
    }
}

impl ContactRow {
    fn of(c: &ContactRecord) -> StoreResult<Self> {
        Ok(Self {
            tenant: c.tenant.as_str().to_owned(),
            shard: shard_of(&c.id),
            id: c.id.as_str().to_owned(),
            phone: c.phone.clone(),
            bsuid: c.bsuid.clone(),
            username: c.username.clone(),
            name: c.name.clone(),
            profile_name: c.profile_name.clone(),
            country: c.country.clone(),
            tags: encode_list(&c.tags),
            attributes: serde_json::to_string(&c.attributes)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            marketing: c.marketing.as_str().to_owned(),
            consent: c
                .consent
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            last_inbound_at: c.last_inbound_at,
            last_outbound_at: c.last_outbound_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
    }

    fn into_record(self) -> StoreResult<ContactRecord> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("contact: {e}"));
        Ok(ContactRecord {
            tenant: TenantId::new(self.tenant),
            id: ContactId::new(self.id),
            phone: self.phone,
            bsuid: self.bsuid,
            username: self.username,
            name: self.name,
            profile_name: self.profile_name,
            country: self.country,
            tags: decode_list(&self.tags)?,
            attributes: serde_json::from_str(&self.attributes).map_err(corrupt)?,
            marketing: Marketing::parse(&self.marketing).unwrap_or_default(),
            consent: self
                .consent
                .map(|c| serde_json::from_str(&c))
                .transpose()
                .map_err(corrupt)?,
            last_inbound_at: self.last_inbound_at,
            last_outbound_at: self.last_outbound_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

row! {
    /// A note on a contact (`contact_notes_by_contact`).
    struct ContactNoteRow {
        at_ms: i64,
        note_id: String,
        author: String,
        author_name: String,
        body: String,
    }
}

row! {
    /// A consent change (`consent_by_contact`); `entry` is `source/marketing`.
    struct ConsentRow {
        at_ms: i64,
        entry: String,
        source: String,
        marketing: String,
        text: String,
        by_user: Option<String>,
    }
}

/// Statements of contacts and everything around them.
pub(super) struct Statements {
    put_contact: PreparedStatement,
    get_contact: PreparedStatement,
    shard_after: PreparedStatement,
    delete_contact: PreparedStatement,
    put_identity: PreparedStatement,
    get_identity: PreparedStatement,
    delete_identity: PreparedStatement,
    put_search: PreparedStatement,
    delete_search: PreparedStatement,
    search_after: PreparedStatement,
    put_tagged: PreparedStatement,
    delete_tagged: PreparedStatement,
    tagged_after: PreparedStatement,
    add_note: PreparedStatement,
    notes_first: PreparedStatement,
    notes_before: PreparedStatement,
    delete_notes: PreparedStatement,
    add_consent: PreparedStatement,
    consent_first: PreparedStatement,
    consent_before: PreparedStatement,
    delete_consent: PreparedStatement,
    // Erasure: a conversation's every row.
    buckets_of: PreparedStatement,
    messages_in_bucket: PreparedStatement,
    // Also retention's: a message's key row and its statuses go the same way there.
    pub(super) delete_key: PreparedStatement,
    pub(super) delete_statuses: PreparedStatement,
    delete_bucket: PreparedStatement,
    delete_buckets: PreparedStatement,
    delete_thread: PreparedStatement,
    delete_open_thread: PreparedStatement,
    conversation_notes: PreparedStatement,
    delete_conversation_notes: PreparedStatement,
    delete_conversation: PreparedStatement,
    delete_legacy_contact: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let c = ContactRow::COLUMNS;
        Ok(Self {
            put_contact: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.contacts_by_id ({c}) VALUES ({})",
                        super::markers(c)
                    ),
                    true,
                )
                .await?,
            get_contact: p
                .prepare(
                    format!(
                        "SELECT {c} FROM {ks}.contacts_by_id WHERE tenant = ? AND shard = ? AND id = ?"
                    ),
                    true,
                )
                .await?,
            shard_after: p
                .prepare(
                    format!(
                        "SELECT {c} FROM {ks}.contacts_by_id
                         WHERE tenant = ? AND shard = ? AND id > ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            delete_contact: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.contacts_by_id WHERE tenant = ? AND shard = ? AND id = ?"
                    ),
                    true,
                )
                .await?,
            put_identity: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.contact_ids_by_identity (tenant, identity, id) VALUES (?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            get_identity: p
                .prepare(
                    format!(
                        "SELECT id FROM {ks}.contact_ids_by_identity WHERE tenant = ? AND identity = ?"
                    ),
                    true,
                )
                .await?,
            delete_identity: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.contact_ids_by_identity WHERE tenant = ? AND identity = ?"
                    ),
                    true,
                )
                .await?,
            put_search: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.contacts_by_search (tenant, prefix, term, id) VALUES (?, ?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            delete_search: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.contacts_by_search
                         WHERE tenant = ? AND prefix = ? AND term = ? AND id = ?"
                    ),
                    true,
                )
                .await?,
            search_after: p
                .prepare(
                    format!(
                        "SELECT term, id FROM {ks}.contacts_by_search WHERE tenant = ? AND prefix = ?
                           AND (term, id) > (?, ?) AND term < ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            put_tagged: p
                .prepare(
                    format!("INSERT INTO {ks}.contacts_by_tag (tenant, tag, id) VALUES (?, ?, ?)"),
                    true,
                )
                .await?,
            delete_tagged: p
                .prepare(
                    format!("DELETE FROM {ks}.contacts_by_tag WHERE tenant = ? AND tag = ? AND id = ?"),
                    true,
                )
                .await?,
            tagged_after: p
                .prepare(
                    format!(
                        "SELECT id FROM {ks}.contacts_by_tag WHERE tenant = ? AND tag = ? AND id > ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            add_note: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.contact_notes_by_contact (tenant, contact, at_ms, note_id,
                           author, author_name, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            notes_first: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.contact_notes_by_contact
                         WHERE tenant = ? AND contact = ? LIMIT ?",
                        ContactNoteRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            notes_before: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.contact_notes_by_contact WHERE tenant = ? AND contact = ?
                           AND (at_ms, note_id) < (?, ?) LIMIT ?",
                        ContactNoteRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            delete_notes: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.contact_notes_by_contact WHERE tenant = ? AND contact = ?"
                    ),
                    true,
                )
                .await?,
            add_consent: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.consent_by_contact (tenant, contact, at_ms, entry, source,
                           marketing, text, by_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            consent_first: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.consent_by_contact WHERE tenant = ? AND contact = ? LIMIT ?",
                        ConsentRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            consent_before: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.consent_by_contact WHERE tenant = ? AND contact = ?
                           AND (at_ms, entry) < (?, ?) LIMIT ?",
                        ConsentRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            delete_consent: p
                .prepare(
                    format!("DELETE FROM {ks}.consent_by_contact WHERE tenant = ? AND contact = ?"),
                    true,
                )
                .await?,
            buckets_of: p
                .prepare(
                    format!(
                        "SELECT bucket FROM {ks}.buckets_by_conversation
                         WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            messages_in_bucket: p
                .prepare(
                    format!(
                        "SELECT message_key, wamid, kind, at_ms, body FROM {ks}.messages_by_conversation
                         WHERE tenant = ? AND conversation_id = ? AND bucket = ?"
                    ),
                    true,
                )
                .await?,
            delete_key: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.messages_by_key WHERE tenant = ? AND message_key = ?"
                    ),
                    true,
                )
                .await?,
            delete_statuses: p
                .prepare(
                    format!("DELETE FROM {ks}.statuses_by_message WHERE tenant = ? AND wamid = ?"),
                    true,
                )
                .await?,
            delete_bucket: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.messages_by_conversation
                         WHERE tenant = ? AND conversation_id = ? AND bucket = ?"
                    ),
                    true,
                )
                .await?,
            delete_buckets: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.buckets_by_conversation WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            delete_thread: p
                .prepare(
                    format!("DELETE FROM {ks}.threads_by_id WHERE tenant = ? AND conversation_id = ?"),
                    true,
                )
                .await?,
            delete_open_thread: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.open_threads_by_tenant WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            conversation_notes: p
                .prepare(
                    format!(
                        "SELECT at_ms FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            delete_conversation_notes: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            delete_conversation: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.conversations_by_id WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            delete_legacy_contact: p
                .prepare(
                    format!("DELETE FROM {ks}.contacts_by_tenant WHERE tenant = ? AND wa_id = ?"),
                    true,
                )
                .await?,
        })
    }
}

/// The identity index keys of a contact.
fn identities(c: &ContactRecord) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = &c.phone {
        out.push(format!("p:{p}"));
    }
    if let Some(b) = &c.bsuid {
        out.push(format!("b:{b}"));
    }
    out
}

fn folded_tags(c: &ContactRecord) -> Vec<String> {
    c.tags.iter().map(|t| t.trim().to_lowercase()).collect()
}

impl ScyllaStore {
    pub(super) async fn exec(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<()> {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn contact_by_id(
        &self,
        tenant: &TenantId,
        id: &ContactId,
    ) -> StoreResult<Option<ContactRecord>> {
        self.one::<ContactRow>(
            &self.contacts.get_contact,
            (tenant.as_str(), shard_of(id), id.as_str()),
        )
        .await?
        .map(ContactRow::into_record)
        .transpose()
    }

    async fn contact_by_identity(
        &self,
        tenant: &TenantId,
        identity: &str,
    ) -> StoreResult<Option<ContactRecord>> {
        let Some((id,)) = self
            .one::<(String,)>(&self.contacts.get_identity, (tenant.as_str(), identity))
            .await?
        else {
            return Ok(None);
        };
        self.contact_by_id(tenant, &ContactId::new(id)).await
    }

    /// Writes a contact and brings its index rows in step with it.
    pub(super) async fn write_contact(&self, c: &ContactRecord) -> StoreResult<()> {
        let t = c.tenant.as_str();
        let ids = identities(c);
        for identity in &ids {
            if let Some((owner,)) = self
                .one::<(String,)>(&self.contacts.get_identity, (t, identity.as_str()))
                .await?
            {
                if owner != c.id.as_str() {
                    // An index row may outlive a deleted contact: only a live owner conflicts.
                    if self
                        .contact_by_id(&c.tenant, &ContactId::new(owner))
                        .await?
                        .is_some()
                    {
                        return Err(StoreError::Conflict(format!(
                            "the number or BSUID of contact {} belongs to another contact",
                            c.id
                        )));
                    }
                }
            }
        }
        let previous = self.contact_by_id(&c.tenant, &c.id).await?;
        for identity in &ids {
            self.exec(
                &self.contacts.put_identity,
                (t, identity.as_str(), c.id.as_str()),
            )
            .await?;
        }
        for (prefix, term) in search_terms(c) {
            self.exec(&self.contacts.put_search, (t, prefix, term, c.id.as_str()))
                .await?;
        }
        for tag in folded_tags(c) {
            self.exec(&self.contacts.put_tagged, (t, tag, c.id.as_str()))
                .await?;
        }
        self.exec(&self.contacts.put_contact, ContactRow::of(c)?)
            .await?;
        if let Some(old) = previous {
            self.unindex(&old, Some(c)).await?;
        }
        Ok(())
    }

    /// Removes the index rows of `old` that `new` (if any) no longer has.
    async fn unindex(&self, old: &ContactRecord, new: Option<&ContactRecord>) -> StoreResult<()> {
        let t = old.tenant.as_str();
        let keep_ids = new.map(identities).unwrap_or_default();
        for identity in identities(old) {
            if !keep_ids.contains(&identity) {
                self.exec(&self.contacts.delete_identity, (t, identity))
                    .await?;
            }
        }
        let keep_terms = new.map(search_terms).unwrap_or_default();
        for (prefix, term) in search_terms(old) {
            if !keep_terms.contains(&(prefix.clone(), term.clone())) {
                self.exec(
                    &self.contacts.delete_search,
                    (t, prefix, term, old.id.as_str()),
                )
                .await?;
            }
        }
        let keep_tags = new.map(folded_tags).unwrap_or_default();
        for tag in folded_tags(old) {
            if !keep_tags.contains(&tag) {
                self.exec(&self.contacts.delete_tagged, (t, tag, old.id.as_str()))
                    .await?;
            }
        }
        Ok(())
    }

    async fn insert_consent(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        e: &ConsentEvidence,
    ) -> StoreResult<()> {
        self.exec(
            &self.contacts.add_consent,
            (
                tenant.as_str(),
                contact.as_str(),
                e.at,
                format!("{}/{}", e.source.as_str(), e.marketing.as_str()),
                e.source.as_str(),
                e.marketing.as_str(),
                e.text.as_str(),
                e.by.as_ref().map(UserId::as_str),
            ),
        )
        .await
    }

    /// Applies what a webhook said about a customer (see the SQLite twin, `sqlite::contacts::touch`).
    pub(super) async fn touch(
        &self,
        tenant: &TenantId,
        t: &ContactTouch,
        at: UnixMillis,
    ) -> StoreResult<()> {
        let mut found = match t.phone() {
            Some(p) => self.contact_by_identity(tenant, &format!("p:{p}")).await?,
            None => None,
        };
        let by_bsuid = match t.bsuid() {
            Some(b) => self.contact_by_identity(tenant, &format!("b:{b}")).await?,
            None => None,
        };
        let mut t = t.clone();
        if found.is_none() {
            found = by_bsuid.clone();
        } else if by_bsuid
            .as_ref()
            .is_some_and(|o| Some(&o.id) != found.as_ref().map(|f| &f.id))
        {
            // The BSUID stays with the contact that has it: merging is a person's decision.
            t.bsuid = None;
        }
        let (mut contact, new) = match found {
            Some(c) => (c, false),
            None => {
                let identity = t.phone().or(t.bsuid()).unwrap_or(&t.customer).to_owned();
                let id = self.keys.contact_id(tenant, &identity);
                (ContactRecord::new(tenant.clone(), id, None, None, at), true)
            }
        };
        if t.apply(&mut contact, at) || new {
            self.write_contact(&contact).await?;
        }
        for e in &t.consent {
            self.insert_consent(tenant, &contact.id, e).await?;
        }
        Ok(())
    }

    /// One page of a tenant's contacts in scan order (shard, id).
    async fn scan_page(
        &self,
        tenant: &TenantId,
        shard: i32,
        after: &str,
        limit: i32,
    ) -> StoreResult<Vec<ContactRecord>> {
        self.rows::<ContactRow>(
            &self.contacts.shard_after,
            (tenant.as_str(), shard, after, limit),
        )
        .await?
        .into_iter()
        .map(ContactRow::into_record)
        .collect()
    }

    async fn delete_contact_rows(&self, c: &ContactRecord) -> StoreResult<(u64, u64)> {
        let t = c.tenant.as_str();
        let notes = self
            .contact_notes(&c.tenant, &c.id, None, crate::store::MAX_PAGE)
            .await?
            .items
            .len() as u64;
        let consent = self
            .consent_history(&c.tenant, &c.id, None, crate::store::MAX_PAGE)
            .await?
            .items
            .len() as u64;
        self.exec(&self.contacts.delete_notes, (t, c.id.as_str()))
            .await?;
        self.exec(&self.contacts.delete_consent, (t, c.id.as_str()))
            .await?;
        self.unindex(c, None).await?;
        self.exec(
            &self.contacts.delete_contact,
            (t, shard_of(&c.id), c.id.as_str()),
        )
        .await?;
        Ok((notes, consent))
    }
}

#[async_trait]
impl ContactStore for ScyllaStore {
    async fn put_contact(
        &self,
        contact: &ContactRecord,
        consent: Option<&ConsentEvidence>,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        self.write_contact(contact).await?;
        if let Some(e) = consent {
            self.insert_consent(&contact.tenant, &contact.id, e).await?;
        }
        if let Some(a) = audit {
            self.write_audit(a).await?;
        }
        Ok(())
    }

    async fn get_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
    ) -> StoreResult<Option<ContactRecord>> {
        self.contact_by_id(tenant, id).await
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> StoreResult<Option<ContactRecord>> {
        let identity = if is_phone_wa_id(customer) {
            format!("p:{customer}")
        } else {
            format!("b:{customer}")
        };
        self.contact_by_identity(tenant, &identity).await
    }

    async fn contacts_by_phones(
        &self,
        tenant: &TenantId,
        phones: &[String],
    ) -> StoreResult<Vec<ContactRecord>> {
        // Point reads, run concurrently (each goes to its own replica set).
        let identities: Vec<String> = phones.iter().map(|p| format!("p:{p}")).collect();
        let reads = identities
            .iter()
            .map(|identity| self.contact_by_identity(tenant, identity));
        let found = futures_util::future::try_join_all(reads).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn touch_contacts(&self, touches: &[(TenantId, ContactTouch)]) -> StoreResult<()> {
        let at = now_ms();
        for (tenant, t) in touches {
            self.touch(tenant, t, at).await?;
        }
        Ok(())
    }

    async fn list_contacts(
        &self,
        tenant: &TenantId,
        query: &ContactQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>> {
        let limit = check_limit(limit)?;
        let (after_key, after_id) = match cursor {
            Some(c) => {
                let mut f = c.decode(2)?;
                let id = f.pop().unwrap_or_default();
                (f.pop().unwrap_or_default(), id)
            }
            None => (String::new(), String::new()),
        };
        let tag = query.tag.as_ref().map(|t| t.trim().to_lowercase());
        let wanted = |c: &ContactRecord| {
            tag.as_ref()
                .is_none_or(|t| c.tags.iter().any(|have| have.to_lowercase() == *t))
        };
        let mut items: Vec<ContactRecord> = Vec::new();
        match &query.prefix {
            Some(prefix) => {
                let by_phone = query.by_phone && prefix.bytes().all(|b| b.is_ascii_digit());
                return self
                    .search_contacts(
                        tenant,
                        prefix,
                        by_phone,
                        (after_key, after_id),
                        limit,
                        wanted,
                    )
                    .await;
            }
            None if tag.is_some() => {
                let tag = tag.clone().unwrap_or_default();
                let ids = self
                    .rows::<(String,)>(
                        &self.contacts.tagged_after,
                        (
                            tenant.as_str(),
                            tag.as_str(),
                            after_id.as_str(),
                            limit as i32,
                        ),
                    )
                    .await?;
                for (id,) in ids {
                    if let Some(c) = self.contact_by_id(tenant, &ContactId::new(id)).await? {
                        items.push(c);
                    }
                }
            }
            None => {
                // Scan order: shard, then id; the cursor holds both.
                let mut shard: i32 = after_key.parse().unwrap_or(0);
                let mut after = after_id;
                while shard < SHARDS && items.len() < limit {
                    let page = self
                        .scan_page(tenant, shard, &after, (limit - items.len()) as i32)
                        .await?;
                    let short = page.len() < limit - items.len();
                    items.extend(page);
                    if short {
                        shard += 1;
                        after = String::new();
                    }
                }
                return Ok(Page::of(items, limit, |c| {
                    Cursor::encode(&[&shard_of(&c.id).to_string(), c.id.as_str()])
                }));
            }
        }
        Ok(Page::of(items, limit, |c| {
            Cursor::encode(&["", c.id.as_str()])
        }))
    }

    async fn count_segment(
        &self,
        tenant: &TenantId,
        filter: &Filter,
        now: UnixMillis,
        open: &HashSet<String>,
    ) -> StoreResult<u64> {
        let mut count = 0u64;
        for shard in 0..SHARDS {
            let mut after = String::new();
            loop {
                let page = self.scan_page(tenant, shard, &after, SCAN_PAGE).await?;
                for c in &page {
                    let cx = FilterContext {
                        now,
                        open_conversation: c.wa_ids().iter().any(|w| open.contains(w)),
                    };
                    if matches(filter, c, cx) {
                        count += 1;
                    }
                }
                match page.last() {
                    Some(last) if page.len() == SCAN_PAGE as usize => {
                        after = last.id.as_str().to_owned()
                    }
                    _ => break,
                }
            }
        }
        Ok(count)
    }

    async fn segment_members(
        &self,
        tenant: &TenantId,
        filter: &Filter,
        now: UnixMillis,
        open: &HashSet<String>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>> {
        let limit = check_limit(limit)?;
        let (mut shard, mut after) = match cursor {
            Some(c) => {
                let mut f = c.decode(2)?;
                let id = f.pop().unwrap_or_default();
                (f.pop().unwrap_or_default().parse().unwrap_or(0), id)
            }
            None => (0, String::new()),
        };
        let mut items = Vec::new();
        // Bounded: a sparse segment returns a short page with a cursor rather than scanning on.
        let mut reads = 0;
        while shard < SHARDS && items.len() < limit && reads < 50 {
            reads += 1;
            let page = self.scan_page(tenant, shard, &after, SCAN_PAGE).await?;
            let full = page.len() == SCAN_PAGE as usize;
            for c in page {
                after = c.id.as_str().to_owned();
                let cx = FilterContext {
                    now,
                    open_conversation: c.wa_ids().iter().any(|w| open.contains(w)),
                };
                if matches(filter, &c, cx) {
                    items.push(c);
                    if items.len() == limit {
                        break;
                    }
                }
            }
            if items.len() < limit && !full {
                shard += 1;
                after = String::new();
            }
        }
        let next = (shard < SHARDS).then(|| Cursor::encode(&[&shard.to_string(), &after]));
        Ok(Page { items, next })
    }

    async fn delete_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool> {
        let Some(c) = self.contact_by_id(tenant, id).await? else {
            return Ok(false);
        };
        self.delete_contact_rows(&c).await?;
        if let Some(a) = audit {
            self.write_audit(a).await?;
        }
        Ok(true)
    }

    async fn merge_contacts(
        &self,
        into: &ContactRecord,
        from: &ContactRecord,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let mut cursor = None;
        loop {
            let page = self
                .contact_notes(
                    &from.tenant,
                    &from.id,
                    cursor.as_ref(),
                    crate::store::MAX_PAGE,
                )
                .await?;
            for n in &page.items {
                let mut moved = n.clone();
                moved.contact = into.id.clone();
                self.add_contact_note(&moved).await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut cursor = None;
        loop {
            let page = self
                .consent_history(
                    &from.tenant,
                    &from.id,
                    cursor.as_ref(),
                    crate::store::MAX_PAGE,
                )
                .await?;
            for e in &page.items {
                self.insert_consent(&into.tenant, &into.id, e).await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.delete_contact_rows(from).await?;
        self.write_contact(into).await?;
        self.write_audit(audit).await
    }

    async fn erase_contact(
        &self,
        contact: &ContactRecord,
        audit: &AuditRecord,
    ) -> StoreResult<ErasureReceipt> {
        let numbers = self.list_numbers(&contact.tenant).await?;
        let tenant = contact.tenant.as_str();
        let mut receipt = ErasureReceipt {
            contact: contact.id.clone(),
            messages: 0,
            conversations: 0,
            notes: 0,
            consent_records: 0,
            media_references: 0,
            at: audit.at_ms,
        };
        for customer in contact.wa_ids() {
            for number in &numbers {
                let conversation = self.keys.conversation_id(
                    &contact.tenant,
                    &number.phone_number_id,
                    &WaId::new(customer.clone()),
                );
                self.erase_conversation(tenant, conversation.as_str(), &mut receipt)
                    .await?;
            }
            self.exec(
                &self.contacts.delete_legacy_contact,
                (tenant, customer.as_str()),
            )
            .await?;
        }
        self.forget_in_imports(contact).await?;
        let (notes, consent) = self.delete_contact_rows(contact).await?;
        receipt.notes += notes;
        receipt.consent_records = consent;
        let mut audit = audit.clone();
        audit.after = serde_json::to_string(&receipt).ok();
        self.write_audit(&audit).await?;
        Ok(receipt)
    }

    async fn add_contact_note(&self, n: &ContactNoteRecord) -> StoreResult<()> {
        self.exec(
            &self.contacts.add_note,
            (
                n.tenant.as_str(),
                n.contact.as_str(),
                n.at_ms,
                n.id.as_str(),
                n.author.as_str(),
                n.author_name.as_str(),
                n.body.as_str(),
            ),
        )
        .await
    }

    async fn contact_notes(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactNoteRecord>> {
        let limit = check_limit(limit)?;
        let rows = match cursor {
            None => {
                self.rows::<ContactNoteRow>(
                    &self.contacts.notes_first,
                    (tenant.as_str(), contact.as_str(), limit as i32),
                )
                .await?
            }
            Some(c) => {
                let (_, at, id) = c.decode_history()?;
                self.rows::<ContactNoteRow>(
                    &self.contacts.notes_before,
                    (tenant.as_str(), contact.as_str(), at, id, limit as i32),
                )
                .await?
            }
        };
        let items: Vec<ContactNoteRecord> = rows
            .into_iter()
            .map(|r| ContactNoteRecord {
                tenant: tenant.clone(),
                contact: contact.clone(),
                id: r.note_id,
                author: UserId::new(r.author),
                author_name: r.author_name,
                body: r.body,
                at_ms: r.at_ms,
            })
            .collect();
        Ok(Page::of(items, limit, |n| {
            Cursor::history(0, n.at_ms, &n.id)
        }))
    }

    async fn consent_history(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ConsentEvidence>> {
        let limit = check_limit(limit)?;
        let rows = match cursor {
            None => {
                self.rows::<ConsentRow>(
                    &self.contacts.consent_first,
                    (tenant.as_str(), contact.as_str(), limit as i32),
                )
                .await?
            }
            Some(c) => {
                let (_, at, entry) = c.decode_history()?;
                self.rows::<ConsentRow>(
                    &self.contacts.consent_before,
                    (tenant.as_str(), contact.as_str(), at, entry, limit as i32),
                )
                .await?
            }
        };
        let items: Vec<ConsentEvidence> = rows
            .into_iter()
            .map(|r| ConsentEvidence {
                at: r.at_ms,
                source: ConsentSource::parse(&r.source).unwrap_or(ConsentSource::Manual),
                marketing: Marketing::parse(&r.marketing).unwrap_or_default(),
                text: r.text,
                by: r.by_user.map(UserId::new),
            })
            .collect();
        Ok(Page::of(items, limit, |e| {
            Cursor::history(
                0,
                e.at,
                &format!("{}/{}", e.source.as_str(), e.marketing.as_str()),
            )
        }))
    }
}
