//! What people do to contacts, the same for every entry point: create, edit, tag in bulk,
//! merge, erase, note; the tag catalogue, attribute definitions and segments; imports
//! ([`import`]) and exports ([`export`]). Every change carries its audit line and is announced
//! on the tenant's `contacts` stream once stored.
//!
//! Owns: the checks a change passes (numbers through libphonenumber, tags against the
//! catalogue, values against their definitions, filters against both) and [`ContactError`].
//! Must not: know HTTP (the API maps the error to a status).

pub mod csvfile;
pub mod export;
pub mod import;
pub mod stop_words;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use switchboard_shared::contacts::*;
use switchboard_shared::protocol::{HubEvent, Topic};
use switchboard_shared::{ContactId, ErrorCode, SegmentId};

use super::broker::Broker;
use crate::auth::{Principal, TenantScope};
use crate::domain::*;
use crate::store::{ContactQuery, StoreError, MAX_PAGE};

/// How a contact command can fail, with the wire code the API answers with.
#[derive(Debug)]
pub struct ContactError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    /// The input cannot be used (400 or 422).
    Invalid,
    /// It conflicts with what is stored (409).
    Conflict,
    Unavailable,
}

impl ContactError {
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Invalid,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            code: ErrorCode::NotFound,
            message: format!("no such {what}"),
        }
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ContactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for ContactError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) => Self::invalid(ErrorCode::BadRequest, m),
            StoreError::Conflict(m) => Self::conflict(ErrorCode::Conflict, m),
            e => {
                tracing::error!(error = %e, "store failure in a contact command");
                let (code, message) = e.refusal();
                Self {
                    kind: ErrorKind::Unavailable,
                    code,
                    message: message.into(),
                }
            }
        }
    }
}

pub type ContactResult<T> = Result<T, ContactError>;

/// The contact use cases, shared by the REST API (and later automation and campaigns).
#[derive(Clone)]
pub struct Contacts {
    broker: Arc<dyn Broker>,
    pub imports: import::Imports,
    hooks: crate::service::webhooks::Webhooks,
    /// Each workspace's stop words (the inbound use case reads the same copy).
    pub stop_words: Arc<stop_words::StopWords>,
}

/// Who acts, and the store as their tenant sees it.
pub struct Actor<'a> {
    pub principal: &'a Principal,
    pub scope: &'a TenantScope,
    /// The audit action of the entry point (`contact.update`).
    pub action: &'a str,
}

impl Actor<'_> {
    fn audit(&self, target: String, before: Option<Value>, after: Option<Value>) -> AuditRecord {
        let mut line = self.principal.audit(self.action, Some(target), "ok");
        line.before = before.map(|v| v.to_string());
        line.after = after.map(|v| v.to_string());
        line
    }
}

/// What an audit line keeps of a contact: the fields a person edits, never the number.
fn snapshot(c: &ContactRecord) -> Value {
    json!({
        "name": c.name,
        "tags": c.tags,
        "attributes": c.attributes,
        "marketing": c.marketing.as_str(),
    })
}

fn check_name(name: &str) -> ContactResult<Option<String>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > 200 {
        return Err(ContactError::invalid(
            ErrorCode::InvalidValue,
            "a name is at most 200 characters",
        ));
    }
    if switchboard_shared::text::check_name(name).is_err() || name.chars().any(char::is_control) {
        return Err(ContactError::invalid(
            ErrorCode::InvalidName,
            "the name holds invisible or direction-control characters",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// A BSUID: `<ISO 3166 alpha-2>.<up to 128 letters and digits>`, or the parent form `CC.ENT.…`.
fn check_bsuid(bsuid: &str) -> ContactResult<String> {
    let b = bsuid.trim();
    let ok = b.len() <= 140
        && b.split('.').count() >= 2
        && b.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|c| c.is_ascii_alphanumeric()))
        && b[..2].bytes().all(|c| c.is_ascii_uppercase());
    if ok {
        Ok(b.to_owned())
    } else {
        Err(ContactError::invalid(
            ErrorCode::InvalidValue,
            format!("`{b}` is not a business-scoped user id (like US.13491208655302741918)"),
        ))
    }
}

impl Contacts {
    pub fn new(
        broker: Arc<dyn Broker>,
        imports: import::Imports,
        hooks: crate::service::webhooks::Webhooks,
        stop_words: Arc<stop_words::StopWords>,
    ) -> Self {
        Self {
            broker,
            imports,
            hooks,
            stop_words,
        }
    }

    /// Tells the tenant's `contacts` stream, and the workspace's webhook subscribers, that a
    /// contact changed (`exists: false`: it is gone).
    pub fn announce(&self, scope: &TenantScope, contact: &ContactId, exists: bool) {
        self.tell(scope, contact, false, exists);
    }

    fn tell(&self, scope: &TenantScope, contact: &ContactId, created: bool, exists: bool) {
        let at = now_ms();
        self.broker.announce(
            scope.tenant(),
            &Topic::Contacts,
            &HubEvent::ContactChanged {
                contact: contact.clone(),
                exists,
                at,
            },
        );
        self.hooks
            .emit(crate::service::webhooks::events::of_contact(
                scope.tenant(),
                contact,
                created,
                exists,
                at,
            ));
    }

    async fn schema(scope: &TenantScope) -> ContactResult<(AttributeSchema, Vec<AttributeDef>)> {
        let defs = scope.attributes().await?;
        let schema = AttributeSchema::new(&defs)
            .map_err(|e| ContactError::invalid(ErrorCode::InvalidValue, e))?;
        Ok((schema, defs))
    }

    async fn catalogue(scope: &TenantScope) -> ContactResult<TagCatalogue> {
        Ok(TagCatalogue::new(&scope.tags().await?))
    }

    /// Checked attribute values merged into `into` (`null` removes one).
    fn merge_attributes(
        schema: &AttributeSchema,
        into: &mut BTreeMap<String, Value>,
        given: &BTreeMap<String, Value>,
    ) -> ContactResult<()> {
        for (key, value) in given {
            match schema
                .check(key, value)
                .map_err(|e| ContactError::invalid(ErrorCode::InvalidValue, e))?
            {
                Some(v) => into.insert(key.clone(), v),
                None => into.remove(key),
            };
        }
        Ok(())
    }

    pub async fn get(&self, scope: &TenantScope, id: &ContactId) -> ContactResult<ContactRecord> {
        scope
            .contact(id)
            .await?
            .ok_or_else(|| ContactError::not_found("contact"))
    }

    /// A new contact, by number (any format; a national one with `default_region`) or BSUID.
    pub async fn create(
        &self,
        actor: &Actor<'_>,
        input: NewContact,
    ) -> ContactResult<ContactRecord> {
        let scope = actor.scope;
        let region = match input.default_region.as_deref() {
            Some(code) => Some(region(code).ok_or_else(|| {
                ContactError::invalid(
                    ErrorCode::InvalidValue,
                    format!("`{code}` is not an ISO 3166 country code"),
                )
            })?),
            None => None,
        };
        let phone = match input.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(text) => Some(
                parse_phone(text, region)
                    .map_err(|e| ContactError::invalid(ErrorCode::InvalidPhone, e.to_string()))?,
            ),
            None => None,
        };
        let bsuid = input.bsuid.as_deref().map(check_bsuid).transpose()?;
        let identity = match (&phone, &bsuid) {
            (Some(p), _) => p.digits.clone(),
            (None, Some(b)) => b.clone(),
            (None, None) => {
                return Err(ContactError::invalid(
                    ErrorCode::InvalidPhone,
                    "a contact needs a phone number or a BSUID",
                ))
            }
        };
        for known in [phone.as_ref().map(|p| &p.digits), bsuid.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(existing) = scope.contact_of(known).await? {
                return Err(ContactError::conflict(
                    ErrorCode::Conflict,
                    format!("contact {} has this number or BSUID", existing.id),
                ));
            }
        }
        let now = now_ms();
        let mut c = ContactRecord::new(
            scope.tenant().clone(),
            scope.contact_id(&identity),
            phone.map(|p| p.digits),
            bsuid,
            now,
        );
        c.name = input.name.as_deref().map(check_name).transpose()?.flatten();
        c.tags = Self::catalogue(scope).await?.resolve(&input.tags)?;
        let (schema, _) = Self::schema(scope).await?;
        Self::merge_attributes(&schema, &mut c.attributes, &input.attributes)?;
        let audit = actor.audit(format!("contact:{}", c.id), None, Some(snapshot(&c)));
        let c = scope.put_contact(c, None, Some(audit)).await?;
        self.tell(scope, &c.id, true, true);
        Ok(c)
    }

    /// Changes the fields a patch names.
    pub async fn patch(
        &self,
        actor: &Actor<'_>,
        id: &ContactId,
        patch: ContactPatch,
    ) -> ContactResult<ContactRecord> {
        let scope = actor.scope;
        let before = self.get(scope, id).await?;
        let mut c = before.clone();
        if let Some(name) = &patch.name {
            c.name = check_name(name)?;
        }
        if let Some(tags) = &patch.tags {
            c.tags = Self::catalogue(scope).await?.resolve(tags)?;
        }
        if let Some(attributes) = &patch.attributes {
            let (schema, _) = Self::schema(scope).await?;
            Self::merge_attributes(&schema, &mut c.attributes, attributes)?;
        }
        let mut evidence = None;
        if let Some(consent) = &patch.consent {
            let reason = consent.reason.trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(ContactError::invalid(
                    ErrorCode::InvalidValue,
                    "consent set by hand needs its reason (1 to 500 characters)",
                ));
            }
            let e = ConsentEvidence {
                marketing: consent.marketing,
                source: ConsentSource::Manual,
                at: now_ms().max(c.consent.as_ref().map_or(0, |e| e.at + 1)),
                text: reason.to_owned(),
                by: actor.principal.user().map(|u| u.id.clone()),
            };
            c.apply_consent(&e);
            evidence = Some(e);
        }
        if c == before {
            return Ok(c);
        }
        c.updated_at = now_ms().max(before.updated_at + 1);
        let audit = actor.audit(
            format!("contact:{}", c.id),
            Some(snapshot(&before)),
            Some(snapshot(&c)),
        );
        let c = scope.put_contact(c, evidence.as_ref(), Some(audit)).await?;
        self.announce(scope, &c.id, true);
        Ok(c)
    }

    /// Adds and removes tags on many contacts (at most 500 per call).
    pub async fn bulk_tags(&self, actor: &Actor<'_>, input: BulkTags) -> ContactResult<BulkResult> {
        let scope = actor.scope;
        if input.contacts.len() > MAX_PAGE {
            return Err(ContactError::invalid(
                ErrorCode::TooMany,
                format!("at most {MAX_PAGE} contacts per call"),
            ));
        }
        let catalogue = Self::catalogue(scope).await?;
        let add = catalogue.resolve(&input.add)?;
        let remove = catalogue.resolve(&input.remove)?;
        let mut result = BulkResult {
            changed: 0,
            unchanged: 0,
            not_found: 0,
        };
        for id in &input.contacts {
            let Some(before) = scope.contact(id).await? else {
                result.not_found += 1;
                continue;
            };
            let mut c = before.clone();
            c.tags.retain(|t| !remove.contains(t));
            for t in &add {
                if !c.tags.contains(t) {
                    c.tags.push(t.clone());
                }
            }
            if c.tags.len() > MAX_CONTACT_TAGS {
                return Err(ContactError::invalid(
                    ErrorCode::TooMany,
                    format!("contact {id} would carry more than {MAX_CONTACT_TAGS} tags"),
                ));
            }
            if c.tags == before.tags {
                result.unchanged += 1;
                continue;
            }
            c.updated_at = now_ms().max(before.updated_at + 1);
            let audit = actor.audit(
                format!("contact:{id}"),
                Some(json!({"tags": before.tags})),
                Some(json!({"tags": c.tags})),
            );
            scope.put_contact(c, None, Some(audit)).await?;
            self.announce(scope, id, true);
            result.changed += 1;
        }
        Ok(result)
    }

    /// Folds `from` into `into`: identities it lacks, tags, attributes it lacks, the newer
    /// consent, notes and consent history; `from` is removed.
    pub async fn merge(
        &self,
        actor: &Actor<'_>,
        into: &ContactId,
        from: &ContactId,
    ) -> ContactResult<ContactRecord> {
        let scope = actor.scope;
        if into == from {
            return Err(ContactError::invalid(
                ErrorCode::BadRequest,
                "a contact cannot be merged into itself",
            ));
        }
        let target = self.get(scope, into).await?;
        let other = self.get(scope, from).await?;
        if target.phone.is_some() && other.phone.is_some() && target.phone != other.phone {
            return Err(ContactError::conflict(
                ErrorCode::Conflict,
                "both contacts have a number, and they differ: a contact has one number",
            ));
        }
        if target.bsuid.is_some() && other.bsuid.is_some() && target.bsuid != other.bsuid {
            return Err(ContactError::conflict(
                ErrorCode::Conflict,
                "both contacts have a BSUID, and they differ",
            ));
        }
        let mut c = target.clone();
        c.phone = c.phone.or(other.phone.clone());
        c.country = c.country.or(other.country.clone());
        c.bsuid = c.bsuid.or(other.bsuid.clone());
        c.username = c.username.or(other.username.clone());
        c.name = c.name.or(other.name.clone());
        c.profile_name = c.profile_name.or(other.profile_name.clone());
        for t in &other.tags {
            if !c.tags.contains(t) && c.tags.len() < MAX_CONTACT_TAGS {
                c.tags.push(t.clone());
            }
        }
        for (k, v) in &other.attributes {
            c.attributes.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(e) = &other.consent {
            c.apply_consent(e);
        }
        c.last_inbound_at = c.last_inbound_at.max(other.last_inbound_at);
        c.last_outbound_at = c.last_outbound_at.max(other.last_outbound_at);
        c.created_at = c.created_at.min(other.created_at);
        c.updated_at = now_ms().max(target.updated_at + 1);
        let audit = actor.audit(
            format!("contact:{}", c.id),
            Some(json!({"into": snapshot(&target), "from": {"id": other.id, "fields": snapshot(&other)}})),
            Some(snapshot(&c)),
        );
        scope.merge_contacts(&c, &other, audit).await?;
        self.announce(scope, &other.id, false);
        self.announce(scope, &c.id, true);
        Ok(c)
    }

    /// Forgets a customer (the right to erasure): see `ContactStore::erase_contact`.
    pub async fn erase(&self, actor: &Actor<'_>, id: &ContactId) -> ContactResult<ErasureReceipt> {
        let scope = actor.scope;
        let c = self.get(scope, id).await?;
        let audit = actor.audit(format!("contact:{id}"), None, None);
        let receipt = scope.erase_contact(&c, audit).await?;
        self.announce(scope, id, false);
        Ok(receipt)
    }

    pub async fn add_note(
        &self,
        actor: &Actor<'_>,
        id: &ContactId,
        body: &str,
    ) -> ContactResult<ContactNoteRecord> {
        let scope = actor.scope;
        self.get(scope, id).await?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_TEXT {
            return Err(ContactError::invalid(
                ErrorCode::InvalidValue,
                format!("a note is 1 to {MAX_TEXT} characters"),
            ));
        }
        let user = actor.principal.user().ok_or_else(|| {
            ContactError::invalid(
                ErrorCode::NotAUser,
                "notes are written by people, not API keys",
            )
        })?;
        let note = ContactNoteRecord {
            tenant: scope.tenant().clone(),
            contact: id.clone(),
            id: new_id("cn"),
            author: user.id.clone(),
            author_name: user.name.clone(),
            body: body.to_owned(),
            at_ms: now_ms(),
        };
        scope.add_contact_note(note.clone()).await?;
        self.announce(scope, id, true);
        Ok(note)
    }

    // --- The catalogue -----------------------------------------------------------------------

    pub async fn put_tag(&self, actor: &Actor<'_>, tag: Tag) -> ContactResult<TagRecord> {
        let scope = actor.scope;
        let name = check_tag_name(&tag.name)
            .map_err(|e| ContactError::invalid(ErrorCode::InvalidValue, e))?;
        let colour = check_colour(&tag.colour)
            .map_err(|e| ContactError::invalid(ErrorCode::InvalidValue, e))?;
        let existing = scope.tags().await?;
        let before = existing
            .iter()
            .find(|t| t.name.to_lowercase() == name.to_lowercase());
        if before.is_none() && existing.len() >= MAX_CATALOGUE_TAGS {
            return Err(ContactError::invalid(
                ErrorCode::TooMany,
                format!("the catalogue holds at most {MAX_CATALOGUE_TAGS} tags"),
            ));
        }
        let record = TagRecord {
            tenant: scope.tenant().clone(),
            name: name.clone(),
            colour,
        };
        let audit = actor.audit(
            format!("tag:{name}"),
            before.map(|t| json!({"name": t.name, "colour": t.colour})),
            Some(json!({"name": record.name, "colour": record.colour})),
        );
        scope.put_tag(record.clone(), Some(audit)).await?;
        Ok(record)
    }

    /// Removes a tag from the catalogue and from every contact carrying it.
    pub async fn delete_tag(&self, actor: &Actor<'_>, name: &str) -> ContactResult<u64> {
        let scope = actor.scope;
        let Some(tag) = Self::catalogue(scope).await?.find(name).map(str::to_owned) else {
            return Err(ContactError::not_found("tag"));
        };
        let query = ContactQuery {
            tag: Some(tag.clone()),
            ..Default::default()
        };
        let stripped = self
            .strip_each(
                scope,
                || scope.contacts(&query, None, MAX_PAGE),
                |c| c.tags.retain(|t| t.to_lowercase() != tag.to_lowercase()),
            )
            .await?;
        let audit = actor.audit(
            format!("tag:{tag}"),
            Some(json!({"name": tag, "contacts": stripped})),
            None,
        );
        scope.delete_tag(&tag, audit).await?;
        Ok(stripped)
    }

    pub async fn put_attribute(&self, actor: &Actor<'_>, def: AttributeDef) -> ContactResult<()> {
        let scope = actor.scope;
        check_definition(&def).map_err(|e| ContactError::invalid(ErrorCode::InvalidValue, e))?;
        let existing = scope.attributes().await?;
        let before = existing.iter().find(|d| d.key == def.key);
        if let Some(b) = before {
            if b.kind != def.kind
                && !matches!(
                    (&b.kind, &def.kind),
                    (AttributeKind::Choice { .. }, AttributeKind::Choice { .. })
                )
            {
                return Err(ContactError::conflict(
                    ErrorCode::Conflict,
                    format!(
                        "`{}` holds values of its type; its type cannot change",
                        def.key
                    ),
                ));
            }
        } else if existing.len() >= MAX_ATTRIBUTES {
            return Err(ContactError::invalid(
                ErrorCode::TooMany,
                format!("at most {MAX_ATTRIBUTES} attributes"),
            ));
        }
        let audit = actor.audit(
            format!("attribute:{}", def.key),
            before.map(|b| json!(b)),
            Some(json!(def)),
        );
        scope.put_attribute(&def, audit).await?;
        Ok(())
    }

    /// Removes a definition and every contact's value of it.
    pub async fn delete_attribute(&self, actor: &Actor<'_>, key: &str) -> ContactResult<u64> {
        let scope = actor.scope;
        if !scope.attributes().await?.iter().any(|d| d.key == key) {
            return Err(ContactError::not_found("attribute"));
        }
        let holds = Filter::Attribute(AttributeTest {
            key: key.to_owned(),
            op: AttributeOp::IsSet,
            value: None,
        });
        let open = Default::default();
        let stripped = self
            .strip_each(
                scope,
                || scope.segment_members(&holds, now_ms(), &open, None, MAX_PAGE),
                |c| {
                    c.attributes.remove(key);
                },
            )
            .await?;
        let audit = actor.audit(
            format!("attribute:{key}"),
            Some(json!({"key": key, "contacts": stripped})),
            None,
        );
        scope.delete_attribute(key, audit).await?;
        Ok(stripped)
    }

    /// Changes every contact the first page of `holding` finds with `fix`, until it finds none
    /// (each fixed contact leaves it); how many were changed.
    async fn strip_each<F, Fut>(
        &self,
        scope: &TenantScope,
        mut holding: F,
        fix: impl Fn(&mut ContactRecord),
    ) -> ContactResult<u64>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<crate::store::Page<ContactRecord>, StoreError>>,
    {
        let mut stripped = 0;
        loop {
            let page = holding().await?;
            if page.items.is_empty() {
                return Ok(stripped);
            }
            for mut c in page.items {
                fix(&mut c);
                c.updated_at = now_ms().max(c.updated_at + 1);
                let id = c.id.clone();
                scope.put_contact(c, None, None).await?;
                self.announce(scope, &id, true);
                stripped += 1;
            }
        }
    }

    // --- Segments ----------------------------------------------------------------------------

    /// Checks a filter against the tenant's catalogue and definitions.
    pub async fn check_filter(&self, scope: &TenantScope, filter: &Filter) -> ContactResult<()> {
        let (schema, _) = Self::schema(scope).await?;
        let tags = Self::catalogue(scope).await?;
        check_filter(filter, &schema, &tags)
            .map_err(|e| ContactError::invalid(ErrorCode::InvalidFilter, e))
    }

    pub async fn put_segment(
        &self,
        actor: &Actor<'_>,
        id: Option<&SegmentId>,
        input: SegmentInput,
    ) -> ContactResult<SegmentRecord> {
        let scope = actor.scope;
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(ContactError::invalid(
                ErrorCode::InvalidValue,
                "a segment's name is 1 to 120 characters",
            ));
        }
        self.check_filter(scope, &input.filter).await?;
        let now = now_ms();
        let (record, before) = match id {
            Some(id) => {
                let before = scope
                    .segment(id)
                    .await?
                    .ok_or_else(|| ContactError::not_found("segment"))?;
                (
                    SegmentRecord {
                        name: name.to_owned(),
                        filter: input.filter,
                        updated_at: now,
                        ..before.clone()
                    },
                    Some(before),
                )
            }
            None => {
                if scope.segments().await?.len() >= MAX_SEGMENTS {
                    return Err(ContactError::invalid(
                        ErrorCode::TooMany,
                        format!("at most {MAX_SEGMENTS} segments"),
                    ));
                }
                (
                    SegmentRecord {
                        tenant: scope.tenant().clone(),
                        id: SegmentId::new(new_id("seg")),
                        name: name.to_owned(),
                        filter: input.filter,
                        created_at: now,
                        updated_at: now,
                    },
                    None,
                )
            }
        };
        let audit = actor.audit(
            format!("segment:{}", record.id),
            before.map(|b| json!({"name": b.name, "filter": b.filter})),
            Some(json!({"name": record.name, "filter": record.filter})),
        );
        scope.put_segment(record.clone(), audit).await?;
        Ok(record)
    }

    pub async fn segment(
        &self,
        scope: &TenantScope,
        id: &SegmentId,
    ) -> ContactResult<SegmentRecord> {
        scope
            .segment(id)
            .await?
            .ok_or_else(|| ContactError::not_found("segment"))
    }

    /// How many contacts a filter selects now.
    pub async fn count(&self, scope: &TenantScope, filter: &Filter) -> ContactResult<u64> {
        let open = if needs_open_conversations(filter) {
            scope.open_customers().await?
        } else {
            Default::default()
        };
        Ok(scope.count_segment(filter, now_ms(), &open).await?)
    }

    pub async fn members(
        &self,
        scope: &TenantScope,
        filter: &Filter,
        cursor: Option<&crate::store::Cursor>,
        limit: usize,
    ) -> ContactResult<crate::store::Page<ContactRecord>> {
        let open = if needs_open_conversations(filter) {
            scope.open_customers().await?
        } else {
            Default::default()
        };
        Ok(scope
            .segment_members(filter, now_ms(), &open, cursor, limit)
            .await?)
    }

    /// Whether a contact is in a segment, clause by clause.
    pub async fn explain(
        &self,
        scope: &TenantScope,
        filter: &Filter,
        id: &ContactId,
    ) -> ContactResult<Explanation> {
        let c = self.get(scope, id).await?;
        let open = if needs_open_conversations(filter) {
            scope.open_customers().await?
        } else {
            Default::default()
        };
        let cx = FilterContext {
            now: now_ms(),
            open_conversation: c.wa_ids().iter().any(|w| open.contains(w)),
        };
        Ok(explain(filter, &c, cx))
    }
}

impl From<TagError> for ContactError {
    fn from(e: TagError) -> Self {
        let code = match e {
            TagError::TooMany(_) => ErrorCode::TooMany,
            TagError::Unknown(_) => ErrorCode::InvalidValue,
        };
        ContactError::invalid(code, e.to_string())
    }
}
