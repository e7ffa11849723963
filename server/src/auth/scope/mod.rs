//! The store as one tenant sees it.
//!
//! API handlers get a [`TenantScope`], never the store: every read is bound to the scope's
//! tenant, and every write has its tenant overwritten with it, so no handler can reach another
//! tenant's rows by passing the wrong id, or by forgetting to pass one. Records coming back are
//! checked too (a backend bug would surface as "not found", not as a leak).

mod automation;
mod compliance;
mod contacts;
mod costs;

use std::sync::Arc;

use switchboard_shared::{ApiKeyId, ConversationId, RoleId, TeamId, TenantId, UserId};

use crate::store::{Cursor, Page, Store, StoreResult};

use crate::domain::{
    AgentDayRecord, ApiKeyRecord, AuditQuery, AuditRecord, ConversationRecord, EpisodeRecord,
    MessageRecord, NoteRecord, NumberRecord, ProfileRecord, RoleRecord, TeamRecord, TenantRecord,
    ThreadRecord, UnixMillis, UserRecord,
};

#[derive(Clone)]
pub struct TenantScope {
    store: Arc<dyn Store>,
    tenant: TenantId,
}

impl TenantScope {
    /// Made by [`Principal::scope`](super::Principal::scope) for requests, and by operator
    /// commands that name their tenant explicitly.
    pub(crate) fn new(store: Arc<dyn Store>, tenant: TenantId) -> Self {
        Self { store, tenant }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The id of this tenant's conversation between `number` and `customer` (keyed: see
    /// `store::keys`).
    pub fn conversation_id(
        &self,
        number: &switchboard_shared::PhoneNumberId,
        customer: &switchboard_shared::WaId,
    ) -> switchboard_shared::ConversationId {
        self.store
            .id_keys()
            .conversation_id(&self.tenant, number, customer)
    }

    /// Purges one of this tenant's conversations (see
    /// [`RetentionStore::purge_conversation`](crate::store::RetentionStore::purge_conversation)).
    pub async fn purge_conversation(
        &self,
        conversation: &switchboard_shared::ConversationId,
        cut: &crate::domain::PurgeCut,
        apply: bool,
    ) -> StoreResult<crate::domain::PurgeCounts> {
        self.store
            .purge_conversation(&self.tenant, conversation, cut, apply)
            .await
    }

    /// Purges this tenant's audit lines of the days before `before`'s.
    pub async fn purge_audit(
        &self,
        before: crate::domain::UnixMillis,
        apply: bool,
    ) -> StoreResult<u64> {
        self.store.purge_audit(&self.tenant, before, apply).await
    }

    /// Records a file's state (this tenant's only).
    pub async fn put_media(&self, media: &crate::domain::MediaRecord) -> StoreResult<()> {
        if media.tenant != self.tenant {
            return Err(crate::store::StoreError::Invalid(
                "another tenant's file".into(),
            ));
        }
        self.store.put_media(media).await
    }

    /// Where this tenant's copy of a file stands.
    pub async fn media(&self, media_id: &str) -> StoreResult<Option<crate::domain::MediaRecord>> {
        self.store.get_media(&self.tenant, media_id).await
    }

    fn mine<T>(&self, record: Option<T>, tenant_of: impl Fn(&T) -> &TenantId) -> Option<T> {
        record.filter(|r| tenant_of(r) == &self.tenant)
    }

    fn bind(&self, mut audit: AuditRecord) -> AuditRecord {
        audit.tenant = self.tenant.clone();
        audit
    }

    /// An audit line made this tenant's, for a service that writes it with its change.
    pub fn bind_audit(&self, audit: AuditRecord) -> AuditRecord {
        self.bind(audit)
    }

    pub async fn tenant_record(&self) -> StoreResult<Option<TenantRecord>> {
        Ok(self
            .store
            .list_tenants()
            .await?
            .into_iter()
            .find(|t| t.id == self.tenant))
    }

    /// Renames the tenant; the audit line follows the change.
    pub async fn rename(&self, name: &str, audit: AuditRecord) -> StoreResult<TenantRecord> {
        let mut record = self.tenant_record().await?.ok_or_else(|| {
            crate::store::StoreError::Invalid(format!("tenant {} vanished", self.tenant))
        })?;
        record.name = name.to_owned();
        self.store.upsert_tenant(&record).await?;
        self.store.append_audit(&self.bind(audit)).await?;
        Ok(record)
    }

    pub async fn numbers(&self) -> StoreResult<Vec<NumberRecord>> {
        self.store.list_numbers(&self.tenant).await
    }

    pub async fn users(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        self.store.list_users(&self.tenant, cursor, limit).await
    }

    pub async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        Ok(self.mine(self.store.get_user(&self.tenant, id).await?, |u| &u.tenant))
    }

    pub async fn create_user(
        &self,
        mut user: UserRecord,
        audit: AuditRecord,
    ) -> StoreResult<UserRecord> {
        user.tenant = self.tenant.clone();
        self.store.create_user(&user, &self.bind(audit)).await?;
        Ok(user)
    }

    /// False when the tenant has no such user.
    pub async fn update_user(&self, mut user: UserRecord, audit: AuditRecord) -> StoreResult<bool> {
        user.tenant = self.tenant.clone();
        self.store.update_user(&user, &self.bind(audit)).await
    }

    pub async fn roles(&self) -> StoreResult<Vec<RoleRecord>> {
        self.store.list_roles(&self.tenant).await
    }

    pub async fn role(&self, id: &RoleId) -> StoreResult<Option<RoleRecord>> {
        Ok(self.mine(self.store.get_role(&self.tenant, id).await?, |r| &r.tenant))
    }

    pub async fn put_role(
        &self,
        mut role: RoleRecord,
        audit: AuditRecord,
    ) -> StoreResult<RoleRecord> {
        role.tenant = self.tenant.clone();
        self.store.put_role(&role, &self.bind(audit)).await?;
        Ok(role)
    }

    pub async fn delete_role(&self, id: &RoleId, audit: AuditRecord) -> StoreResult<bool> {
        self.store
            .delete_role(&self.tenant, id, &self.bind(audit))
            .await
    }

    pub async fn teams(&self) -> StoreResult<Vec<TeamRecord>> {
        self.store.list_teams(&self.tenant).await
    }

    pub async fn team(&self, id: &TeamId) -> StoreResult<Option<TeamRecord>> {
        Ok(self.mine(self.store.get_team(&self.tenant, id).await?, |t| &t.tenant))
    }

    pub async fn put_team(
        &self,
        mut team: TeamRecord,
        audit: AuditRecord,
    ) -> StoreResult<TeamRecord> {
        team.tenant = self.tenant.clone();
        self.store.put_team(&team, &self.bind(audit)).await?;
        Ok(team)
    }

    pub async fn delete_team(&self, id: &TeamId, audit: AuditRecord) -> StoreResult<bool> {
        self.store
            .delete_team(&self.tenant, id, &self.bind(audit))
            .await
    }

    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(self
            .store
            .list_api_keys(&self.tenant)
            .await?
            .into_iter()
            .filter(|k| k.tenant == self.tenant)
            .collect())
    }

    pub async fn create_api_key(
        &self,
        mut key: ApiKeyRecord,
        audit: AuditRecord,
    ) -> StoreResult<ApiKeyRecord> {
        key.tenant = self.tenant.clone();
        self.store.create_api_key(&key, &self.bind(audit)).await?;
        Ok(key)
    }

    /// False for another tenant's key, an unknown one, or one already revoked.
    pub async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at: UnixMillis,
        audit: AuditRecord,
    ) -> StoreResult<bool> {
        self.store
            .revoke_api_key(&self.tenant, id, at, &self.bind(audit))
            .await
    }

    pub async fn append_audit(&self, audit: AuditRecord) -> StoreResult<()> {
        self.store.append_audit(&self.bind(audit)).await
    }

    pub async fn audit_log(
        &self,
        query: &AuditQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AuditRecord>> {
        self.store
            .audit_log(&self.tenant, query, cursor, limit)
            .await
    }

    /// A wamid as `viewer` may see it: itself with `contacts.phone.view`, else this tenant's
    /// opaque reference for it (a wamid is base64 that contains the customer's number).
    pub fn shown_wamid(&self, viewer: &super::Principal, wamid: &str) -> String {
        if viewer.can(switchboard_shared::Permission::ContactsPhoneView) {
            wamid.to_owned()
        } else {
            self.store.id_keys().message_ref(&self.tenant, wamid)
        }
    }

    /// The keyed id that replaced `old_id`, in this tenant.
    pub async fn conversation_alias(&self, old_id: &str) -> StoreResult<Option<ConversationId>> {
        self.store.conversation_alias(&self.tenant, old_id).await
    }

    pub async fn conversation(
        &self,
        id: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>> {
        Ok(
            self.mine(self.store.get_conversation(&self.tenant, id).await?, |c| {
                &c.tenant
            }),
        )
    }

    /// A conversation's inbox state (who has it, the reply window).
    pub async fn thread(&self, id: &ConversationId) -> StoreResult<Option<ThreadRecord>> {
        Ok(
            self.mine(self.store.get_thread(&self.tenant, id).await?, |t| {
                &t.tenant
            }),
        )
    }

    /// A page of the tenant's open conversations.
    pub async fn open_threads(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let mut page = self.store.open_threads(&self.tenant, cursor, limit).await?;
        page.items.retain(|t| t.tenant == self.tenant);
        Ok(page)
    }

    /// Messages holding every term (see
    /// [`MessageStore::search_messages`](crate::store::MessageStore::search_messages)).
    pub async fn search_messages(
        &self,
        terms: &[String],
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<crate::store::SearchHit>> {
        self.store
            .search_messages(&self.tenant, terms, cursor, limit)
            .await
    }

    /// The archive: conversations by the day of their last activity (see
    /// [`InboxStore::threads_by_activity`](crate::store::InboxStore::threads_by_activity)).
    pub async fn threads_by_activity(
        &self,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let mut page = self
            .store
            .threads_by_activity(&self.tenant, days, cursor, limit)
            .await?;
        page.items.retain(|t| t.tenant == self.tenant);
        Ok(page)
    }

    /// Reports' facts: the episodes opened on `days` (see
    /// [`InboxStore::episodes`](crate::store::InboxStore::episodes)).
    pub async fn episodes(
        &self,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<EpisodeRecord>> {
        let mut page = self
            .store
            .episodes(&self.tenant, days, cursor, limit)
            .await?;
        page.items.retain(|e| e.tenant == self.tenant);
        Ok(page)
    }

    /// A page of the tenant's agent-days (agents' working time) on `days`.
    pub async fn agent_days(
        &self,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AgentDayRecord>> {
        let mut page = self
            .store
            .agent_days(&self.tenant, days, cursor, limit)
            .await?;
        page.items.retain(|d| d.tenant == self.tenant);
        Ok(page)
    }

    pub async fn history(
        &self,
        id: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let mut page = self
            .store
            .conversation_history(&self.tenant, id, cursor, limit)
            .await?;
        page.items.retain(|m| m.tenant == self.tenant);
        Ok(page)
    }

    /// One message of a conversation by its key; `None` if the conversation has no such message.
    pub async fn message(
        &self,
        conversation: &ConversationId,
        key: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        let found = self
            .store
            .get_message(&self.tenant, &switchboard_shared::MessageKey::new(key))
            .await?;
        Ok(self
            .mine(found, |m| &m.tenant)
            .filter(|m| &m.conversation == conversation))
    }

    /// Adds an internal note (its tenant is this scope's).
    pub async fn add_note(&self, mut note: NoteRecord) -> StoreResult<NoteRecord> {
        note.tenant = self.tenant.clone();
        self.store.add_note(&note).await?;
        Ok(note)
    }

    pub async fn notes(
        &self,
        id: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<NoteRecord>> {
        let mut page = self.store.notes(&self.tenant, id, cursor, limit).await?;
        page.items.retain(|n| n.tenant == self.tenant);
        Ok(page)
    }

    /// One agent's profile, if set.
    pub async fn profile(&self, user: &UserId) -> StoreResult<Option<ProfileRecord>> {
        Ok(self.profiles().await?.into_iter().find(|p| &p.user == user))
    }

    /// Every agent profile of the tenant.
    pub async fn profiles(&self) -> StoreResult<Vec<ProfileRecord>> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .profiles(&self.tenant, cursor.as_ref(), crate::store::MAX_PAGE)
                .await?;
            all.extend(page.items.into_iter().filter(|p| p.tenant == self.tenant));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}
