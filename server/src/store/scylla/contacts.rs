//! Contacts on ScyllaDB: records in 16 partitions per tenant, found by id; index rows for the
//! number and BSUID (`contact_ids_by_identity`), for prefix search and for tags, kept in step
//! by `put` (read the stored contact, write the new rows, remove the stale ones: each step an
//! upsert or a delete, so a retry converges). Segment counts and members read the tenant's
//! partitions page by page and test each contact with [`crate::domain::matches`].

use std::collections::HashSet;

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::contacts::{
    AttributeDef, ConsentEvidence, ConsentSource, Filter, ImportState, Marketing,
};
use switchboard_shared::{ContactId, ImportId, SegmentId, TenantId, UserId, WaId};

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

row! {
    /// An import (`imports_by_tenant`); options and progress as JSON.
    struct ImportRow {
        tenant: String,
        import_id: String,
        state: String,
        dry_run: bool,
        by_user: String,
        file_name: Option<String>,
        file: String,
        bytes_total: i64,
        options: String,
        progress: String,
        error: Option<String>,
        started_at: i64,
        finished_at: Option<i64>,
    }
}

impl ImportRow {
    fn of(i: &ImportRecord) -> StoreResult<Self> {
        let json = |e: serde_json::Error| StoreError::Invalid(e.to_string());
        Ok(Self {
            tenant: i.tenant.as_str().to_owned(),
            import_id: i.id.as_str().to_owned(),
            state: i.state.as_str().to_owned(),
            dry_run: i.dry_run,
            by_user: i.by.as_str().to_owned(),
            file_name: i.file_name.clone(),
            file: i.file.clone(),
            bytes_total: i.bytes_total as i64,
            options: serde_json::to_string(&i.options).map_err(json)?,
            progress: serde_json::to_string(&i.progress).map_err(json)?,
            error: i.error.clone(),
            started_at: i.started_at,
            finished_at: i.finished_at,
        })
    }

    fn into_record(self) -> StoreResult<ImportRecord> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("import: {e}"));
        Ok(ImportRecord {
            tenant: TenantId::new(self.tenant),
            id: ImportId::new(self.import_id),
            state: ImportState::parse(&self.state).unwrap_or(ImportState::Failed),
            dry_run: self.dry_run,
            by: UserId::new(self.by_user),
            file_name: self.file_name,
            file: self.file,
            bytes_total: self.bytes_total as u64,
            options: serde_json::from_str(&self.options).map_err(corrupt)?,
            progress: serde_json::from_str(&self.progress).map_err(corrupt)?,
            error: self.error,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

row! {
    /// An undo entry (`import_undo`); `before` as JSON, absent when the import created it.
    struct UndoRow {
        tenant: String,
        import_id: String,
        contact: String,
        before: Option<String>,
        written_at: i64,
    }
}

row! {
    /// A rejected row (`import_rejects`); fields as a JSON list.
    struct RejectRow {
        tenant: String,
        import_id: String,
        line: i64,
        fields: String,
        reason: String,
    }
}

row! {
    /// A segment (`segments_by_tenant`); the filter as JSON.
    struct SegmentRow {
        tenant: String,
        segment_id: String,
        name: String,
        filter: String,
        created_at: i64,
        updated_at: i64,
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
    put_tag: PreparedStatement,
    list_tags: PreparedStatement,
    delete_tag: PreparedStatement,
    put_attribute: PreparedStatement,
    list_attributes: PreparedStatement,
    delete_attribute: PreparedStatement,
    put_segment: PreparedStatement,
    list_segments: PreparedStatement,
    delete_segment: PreparedStatement,
    put_import: PreparedStatement,
    get_import: PreparedStatement,
    list_imports: PreparedStatement,
    mark_running: PreparedStatement,
    unmark_running: PreparedStatement,
    running: PreparedStatement,
    put_undo: PreparedStatement,
    get_undo: PreparedStatement,
    undo_after: PreparedStatement,
    delete_undo: PreparedStatement,
    put_reject: PreparedStatement,
    rejects_after: PreparedStatement,
    // Erasure: a conversation's every row.
    buckets_of: PreparedStatement,
    messages_in_bucket: PreparedStatement,
    delete_key: PreparedStatement,
    delete_statuses: PreparedStatement,
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
            put_tag: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.tags_by_tenant (tenant, fold, name, colour) VALUES (?, ?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            list_tags: p
                .prepare(
                    format!("SELECT name, colour FROM {ks}.tags_by_tenant WHERE tenant = ? LIMIT ?"),
                    true,
                )
                .await?,
            delete_tag: p
                .prepare(
                    format!("DELETE FROM {ks}.tags_by_tenant WHERE tenant = ? AND fold = ?"),
                    true,
                )
                .await?,
            put_attribute: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.attributes_by_tenant (tenant, key, definition) VALUES (?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            list_attributes: p
                .prepare(
                    format!(
                        "SELECT definition FROM {ks}.attributes_by_tenant WHERE tenant = ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            delete_attribute: p
                .prepare(
                    format!("DELETE FROM {ks}.attributes_by_tenant WHERE tenant = ? AND key = ?"),
                    true,
                )
                .await?,
            put_segment: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.segments_by_tenant ({}) VALUES ({})",
                        SegmentRow::COLUMNS,
                        super::markers(SegmentRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            list_segments: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.segments_by_tenant WHERE tenant = ? LIMIT ?",
                        SegmentRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            delete_segment: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.segments_by_tenant WHERE tenant = ? AND segment_id = ?"
                    ),
                    true,
                )
                .await?,
            put_import: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.imports_by_tenant ({}) VALUES ({})",
                        ImportRow::COLUMNS,
                        super::markers(ImportRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            get_import: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.imports_by_tenant WHERE tenant = ? AND import_id = ?",
                        ImportRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            list_imports: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.imports_by_tenant WHERE tenant = ? LIMIT 1000",
                        ImportRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            mark_running: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.running_imports (shard, tenant, import_id) VALUES (0, ?, ?)"
                    ),
                    true,
                )
                .await?,
            unmark_running: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.running_imports WHERE shard = 0 AND tenant = ? AND import_id = ?"
                    ),
                    true,
                )
                .await?,
            running: p
                .prepare(
                    format!(
                        "SELECT tenant, import_id FROM {ks}.running_imports WHERE shard = 0 LIMIT 10000"
                    ),
                    true,
                )
                .await?,
            put_undo: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.import_undo ({}) VALUES ({})",
                        UndoRow::COLUMNS,
                        super::markers(UndoRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            get_undo: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.import_undo
                         WHERE tenant = ? AND import_id = ? AND contact = ?",
                        UndoRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            undo_after: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.import_undo
                         WHERE tenant = ? AND import_id = ? AND contact > ? LIMIT ?",
                        UndoRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            delete_undo: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.import_undo WHERE tenant = ? AND import_id = ? AND contact = ?"
                    ),
                    true,
                )
                .await?,
            put_reject: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.import_rejects ({}) VALUES ({})",
                        RejectRow::COLUMNS,
                        super::markers(RejectRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            rejects_after: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.import_rejects
                         WHERE tenant = ? AND import_id = ? AND line > ? LIMIT ?",
                        RejectRow::COLUMNS
                    ),
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
                        "SELECT message_key, wamid, kind FROM {ks}.messages_by_conversation
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

/// The search index entries of a contact: (partition prefix, term).
fn search_terms(c: &ContactRecord) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let name = fold(c.display_name().unwrap_or(""));
    if !name.is_empty() {
        out.push((
            format!("n:{}", name.chars().take(2).collect::<String>()),
            name,
        ));
    }
    if let Some(p) = &c.phone {
        out.push((format!("p:{}", &p[..p.len().min(2)]), p.clone()));
    }
    out
}

fn folded_tags(c: &ContactRecord) -> Vec<String> {
    c.tags.iter().map(|t| t.trim().to_lowercase()).collect()
}

impl ScyllaStore {
    async fn exec(
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
    async fn write_contact(&self, c: &ContactRecord) -> StoreResult<()> {
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

    async fn erase_conversation(
        &self,
        tenant: &str,
        conversation: &str,
        receipt: &mut ErasureReceipt,
    ) -> StoreResult<()> {
        let buckets = self
            .rows::<(i64,)>(&self.contacts.buckets_of, (tenant, conversation))
            .await?;
        if buckets.is_empty() {
            return Ok(());
        }
        for (bucket,) in &buckets {
            let rows = self
                .rows::<(String, String, String)>(
                    &self.contacts.messages_in_bucket,
                    (tenant, conversation, bucket),
                )
                .await?;
            for (key, wamid, kind) in &rows {
                if matches!(
                    kind.as_str(),
                    "image" | "video" | "audio" | "document" | "sticker"
                ) {
                    receipt.media_references += 1;
                }
                self.exec(&self.contacts.delete_key, (tenant, key)).await?;
                self.exec(&self.contacts.delete_statuses, (tenant, wamid))
                    .await?;
            }
            receipt.messages += rows.len() as u64;
            self.exec(&self.contacts.delete_bucket, (tenant, conversation, bucket))
                .await?;
        }
        receipt.notes += self
            .rows::<(i64,)>(&self.contacts.conversation_notes, (tenant, conversation))
            .await?
            .len() as u64;
        for st in [
            &self.contacts.delete_buckets,
            &self.contacts.delete_thread,
            &self.contacts.delete_open_thread,
            &self.contacts.delete_conversation_notes,
            &self.contacts.delete_conversation,
        ] {
            self.exec(st, (tenant, conversation)).await?;
        }
        receipt.conversations += 1;
        Ok(())
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
                let kind = if by_phone { "p" } else { "n" };
                let head: String = prefix.chars().take(2).collect();
                let partition = format!("{kind}:{head}");
                let upper = format!("{prefix}\u{10FFFF}");
                let (mut key, mut id) = if after_key.is_empty() {
                    (prefix.clone(), String::new())
                } else {
                    (after_key, after_id)
                };
                let mut found: Vec<(String, ContactRecord)> = Vec::new();
                // Bounded: at most 20 index pages per call (a tag filter may skip many).
                for _ in 0..20 {
                    let hits = self
                        .rows::<(String, String)>(
                            &self.contacts.search_after,
                            (
                                tenant.as_str(),
                                partition.as_str(),
                                key.as_str(),
                                id.as_str(),
                                upper.as_str(),
                                limit as i32,
                            ),
                        )
                        .await?;
                    let done = hits.len() < limit;
                    for (term, cid) in hits {
                        (key, id) = (term.clone(), cid.clone());
                        if let Some(c) = self.contact_by_id(tenant, &ContactId::new(cid)).await? {
                            if wanted(&c) && found.len() < limit {
                                found.push((term, c));
                            }
                        }
                    }
                    if done || found.len() >= limit {
                        break;
                    }
                }
                let next = (found.len() == limit).then(|| {
                    let (term, c) = found.last().expect("a full page");
                    Cursor::encode(&[term, c.id.as_str()])
                });
                return Ok(Page {
                    items: found.into_iter().map(|(_, c)| c).collect(),
                    next,
                });
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
        for import in self.list_imports(&contact.tenant).await? {
            self.exec(
                &self.contacts.delete_undo,
                (tenant, import.id.as_str(), contact.id.as_str()),
            )
            .await?;
        }
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

    async fn put_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        let values = (
            tag.tenant.as_str(),
            tag.name.trim().to_lowercase(),
            tag.name.as_str(),
            tag.colour.as_str(),
        );
        match audit {
            Some(a) => self.with_audit(&self.contacts.put_tag, values, a).await,
            None => self.exec(&self.contacts.put_tag, values).await,
        }
    }

    async fn list_tags(&self, tenant: &TenantId) -> StoreResult<Vec<TagRecord>> {
        Ok(self
            .rows::<(String, String)>(
                &self.contacts.list_tags,
                (tenant.as_str(), MAX_CATALOGUE_TAGS as i32),
            )
            .await?
            .into_iter()
            .map(|(name, colour)| TagRecord {
                tenant: tenant.clone(),
                name,
                colour,
            })
            .collect())
    }

    async fn delete_tag(
        &self,
        tenant: &TenantId,
        name: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let fold = name.trim().to_lowercase();
        let exists = self
            .list_tags(tenant)
            .await?
            .iter()
            .any(|t| t.name.to_lowercase() == fold);
        if exists {
            self.with_audit(&self.contacts.delete_tag, (tenant.as_str(), fold), audit)
                .await?;
        }
        Ok(exists)
    }

    async fn put_attribute(
        &self,
        tenant: &TenantId,
        def: &AttributeDef,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let text = serde_json::to_string(def).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.with_audit(
            &self.contacts.put_attribute,
            (tenant.as_str(), def.key.as_str(), text),
            audit,
        )
        .await
    }

    async fn list_attributes(&self, tenant: &TenantId) -> StoreResult<Vec<AttributeDef>> {
        self.rows::<(String,)>(
            &self.contacts.list_attributes,
            (tenant.as_str(), MAX_ATTRIBUTES as i32),
        )
        .await?
        .into_iter()
        .map(|(d,)| {
            serde_json::from_str(&d)
                .map_err(|e| StoreError::Corrupt(format!("attribute definition: {e}")))
        })
        .collect()
    }

    async fn delete_attribute(
        &self,
        tenant: &TenantId,
        key: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let exists = self
            .list_attributes(tenant)
            .await?
            .iter()
            .any(|d| d.key == key);
        if exists {
            self.with_audit(
                &self.contacts.delete_attribute,
                (tenant.as_str(), key),
                audit,
            )
            .await?;
        }
        Ok(exists)
    }

    async fn put_segment(&self, s: &SegmentRecord, audit: &AuditRecord) -> StoreResult<()> {
        let row = SegmentRow {
            tenant: s.tenant.as_str().to_owned(),
            segment_id: s.id.as_str().to_owned(),
            name: s.name.clone(),
            filter: serde_json::to_string(&s.filter)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            created_at: s.created_at,
            updated_at: s.updated_at,
        };
        self.with_audit(&self.contacts.put_segment, row, audit)
            .await
    }

    async fn get_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
    ) -> StoreResult<Option<SegmentRecord>> {
        Ok(self
            .list_segments(tenant)
            .await?
            .into_iter()
            .find(|s| &s.id == id))
    }

    async fn list_segments(&self, tenant: &TenantId) -> StoreResult<Vec<SegmentRecord>> {
        self.rows::<SegmentRow>(
            &self.contacts.list_segments,
            (tenant.as_str(), MAX_SEGMENTS as i32),
        )
        .await?
        .into_iter()
        .map(|r| {
            Ok(SegmentRecord {
                tenant: tenant.clone(),
                id: SegmentId::new(r.segment_id),
                name: r.name,
                filter: serde_json::from_str(&r.filter)
                    .map_err(|e| StoreError::Corrupt(format!("segment filter: {e}")))?,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
    }

    async fn delete_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let exists = self.get_segment(tenant, id).await?.is_some();
        if exists {
            self.with_audit(
                &self.contacts.delete_segment,
                (tenant.as_str(), id.as_str()),
                audit,
            )
            .await?;
        }
        Ok(exists)
    }

    async fn put_import(&self, import: &ImportRecord) -> StoreResult<()> {
        self.exec(&self.contacts.put_import, ImportRow::of(import)?)
            .await?;
        let key = (import.tenant.as_str(), import.id.as_str());
        if import.state == ImportState::Running {
            self.exec(&self.contacts.mark_running, key).await
        } else {
            self.exec(&self.contacts.unmark_running, key).await
        }
    }

    async fn get_import(
        &self,
        tenant: &TenantId,
        id: &ImportId,
    ) -> StoreResult<Option<ImportRecord>> {
        self.one::<ImportRow>(&self.contacts.get_import, (tenant.as_str(), id.as_str()))
            .await?
            .map(ImportRow::into_record)
            .transpose()
    }

    async fn list_imports(&self, tenant: &TenantId) -> StoreResult<Vec<ImportRecord>> {
        let mut all = self
            .rows::<ImportRow>(&self.contacts.list_imports, (tenant.as_str(),))
            .await?
            .into_iter()
            .map(ImportRow::into_record)
            .collect::<StoreResult<Vec<_>>>()?;
        all.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
        all.truncate(100);
        Ok(all)
    }

    async fn running_imports(&self) -> StoreResult<Vec<ImportRecord>> {
        let mut out = Vec::new();
        for (tenant, id) in self
            .rows::<(String, String)>(&self.contacts.running, ())
            .await?
        {
            if let Some(i) = self
                .get_import(&TenantId::new(tenant), &ImportId::new(id))
                .await?
            {
                if i.state == ImportState::Running {
                    out.push(i);
                }
            }
        }
        Ok(out)
    }

    async fn import_chunk(
        &self,
        import: &ImportRecord,
        contacts: &[ContactRecord],
        undo: &[UndoEntry],
        rejected: &[RejectedRow],
    ) -> StoreResult<()> {
        let key = (import.tenant.as_str(), import.id.as_str());
        // The undo log first, keeping the first "before" a contact got (a chunk written again
        // after a crash must not record the import's own values as the state before it).
        for u in undo {
            let kept = self
                .one::<UndoRow>(&self.contacts.get_undo, (key.0, key.1, u.contact.as_str()))
                .await?;
            let before = match kept {
                Some(row) => row.before,
                None => u
                    .before
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            };
            let row = UndoRow {
                tenant: key.0.to_owned(),
                import_id: key.1.to_owned(),
                contact: u.contact.as_str().to_owned(),
                before,
                written_at: u.written_at,
            };
            self.exec(&self.contacts.put_undo, row).await?;
        }
        for c in contacts {
            self.write_contact(c).await?;
        }
        for r in rejected {
            let row = RejectRow {
                tenant: key.0.to_owned(),
                import_id: key.1.to_owned(),
                line: r.line as i64,
                fields: encode_list(&r.fields),
                reason: r.reason.clone(),
            };
            self.exec(&self.contacts.put_reject, row).await?;
        }
        self.put_import(import).await
    }

    async fn import_undo_log(
        &self,
        tenant: &TenantId,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UndoEntry>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let items = self
            .rows::<UndoRow>(
                &self.contacts.undo_after,
                (tenant.as_str(), import.as_str(), after, limit as i32),
            )
            .await?
            .into_iter()
            .map(|r| {
                Ok(UndoEntry {
                    contact: ContactId::new(r.contact),
                    before: r
                        .before
                        .map(|b| serde_json::from_str(&b))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("undo entry: {e}")))?,
                    written_at: r.written_at,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |u| {
            Cursor::after_text(u.contact.as_str())
        }))
    }

    async fn rejected_rows(
        &self,
        tenant: &TenantId,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RejectedRow>> {
        let limit = check_limit(limit)?;
        let after: i64 = Cursor::decode_text(cursor)?.parse().unwrap_or(0);
        let items = self
            .rows::<RejectRow>(
                &self.contacts.rejects_after,
                (tenant.as_str(), import.as_str(), after, limit as i32),
            )
            .await?
            .into_iter()
            .map(|r| {
                Ok(RejectedRow {
                    line: r.line as u64,
                    fields: decode_list(&r.fields)?,
                    reason: r.reason,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |r| {
            Cursor::after_text(&format!("{:020}", r.line))
        }))
    }
}
