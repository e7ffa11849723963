//! Contacts: the records with their identity, search, tag and attribute indexes; notes and
//! consent history; the catalogue, definitions and segments; imports with their undo log and
//! rejected rows; erasure. `touch` is also called by `ingest` inside the webhook's savepoint.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use switchboard_shared::contacts::{ConsentEvidence, ConsentSource, Filter, Marketing};
use switchboard_shared::{ContactId, ConversationId, PhoneNumberId, TenantId, UserId, WaId};

use super::filter::{attribute_columns, compile, fold_tag, tag_key};
use super::identity::insert_audit;
use super::{unavailable, List, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::StoreError;
use crate::store::StoreResult;
use crate::store::{
    check_limit, encode_list, search_page, ContactQuery, ContactStore, DirectoryStore, IdKeys,
    SEARCH_ROUNDS, SEARCH_ROWS,
};

const CONTACT_COLUMNS: &str = "tenant, id, phone, bsuid, username, name, profile_name, country, \
    tags, attributes, marketing, consent, last_inbound_at, last_outbound_at, created_at, updated_at";

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// A row of `SELECT {CONTACT_COLUMNS}`, read by position in that list's order (checked by a
/// test): read by name, rusqlite compares the name against every column on each read, which
/// was a third of a pre-flight over a million contacts.
fn contact_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContactRecord> {
    let attributes: String = r.get(9)?;
    let consent: Option<String> = r.get(11)?;
    let marketing: String = r.get(10)?;
    Ok(ContactRecord {
        tenant: TenantId::new(r.get::<_, String>(0)?),
        id: ContactId::new(r.get::<_, String>(1)?),
        phone: r.get(2)?,
        bsuid: r.get(3)?,
        username: r.get(4)?,
        name: r.get(5)?,
        profile_name: r.get(6)?,
        country: r.get(7)?,
        tags: r.get::<_, List>(8)?.0,
        attributes: serde_json::from_str(&attributes).map_err(json_err)?,
        marketing: Marketing::parse(&marketing).unwrap_or_default(),
        consent: consent
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(json_err)?,
        last_inbound_at: r.get(12)?,
        last_outbound_at: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

#[cfg(test)]
#[test]
fn contact_columns_are_read_in_their_listed_order() {
    let listed: Vec<&str> = CONTACT_COLUMNS.split(',').map(str::trim).collect();
    assert_eq!(
        listed,
        [
            "tenant",
            "id",
            "phone",
            "bsuid",
            "username",
            "name",
            "profile_name",
            "country",
            "tags",
            "attributes",
            "marketing",
            "consent",
            "last_inbound_at",
            "last_outbound_at",
            "created_at",
            "updated_at"
        ],
        "contact_from reads these positions"
    );
}

fn conflict_or(e: rusqlite::Error, c: &ContactRecord) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(format!(
                "the number or BSUID of contact {} belongs to another contact",
                c.id
            ))
        }
        e => unavailable(e),
    }
}

/// Writes a contact whole, keeping its tag and attribute rows in step with it.
pub(super) fn write_contact(conn: &Connection, c: &ContactRecord) -> StoreResult<()> {
    let previous: Option<(String, String, String)> = conn
        .prepare_cached(
            "SELECT tag_key, attributes, search FROM contacts_by_id WHERE tenant = ?1 AND id = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![c.tenant.as_str(), c.id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(unavailable)?;
    let search = fold(c.display_name().unwrap_or(""));
    let key = tag_key(&c.tags);
    let attributes = serde_json::to_string(&c.attributes)
        .map_err(|e| StoreError::Invalid(format!("attributes: {e}")))?;
    let consent = c
        .consent
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("consent: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO contacts_by_id (tenant, id, phone, bsuid, username, name, profile_name,
           search, country, tags, tag_key, attributes, marketing, consent, last_inbound_at,
           last_outbound_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (tenant, id) DO UPDATE SET phone = excluded.phone, bsuid = excluded.bsuid,
           username = excluded.username, name = excluded.name,
           profile_name = excluded.profile_name, search = excluded.search,
           country = excluded.country, tags = excluded.tags, tag_key = excluded.tag_key,
           attributes = excluded.attributes, marketing = excluded.marketing,
           consent = excluded.consent, last_inbound_at = excluded.last_inbound_at,
           last_outbound_at = excluded.last_outbound_at, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.tenant.as_str(),
            c.id.as_str(),
            c.phone,
            c.bsuid,
            c.username,
            c.name,
            c.profile_name,
            search,
            c.country,
            encode_list(&c.tags),
            key,
            attributes,
            c.marketing.as_str(),
            consent,
            c.last_inbound_at,
            c.last_outbound_at,
            c.created_at,
            c.updated_at
        ])
    })
    .map_err(|e| conflict_or(e, c))?;

    let (old_key, old_attributes, old_search) = previous.unwrap_or_default();
    if old_search != search {
        write_terms(conn, &c.tenant, &c.id, &old_search, &search)?;
    }
    if old_key != key {
        for tag in old_key.split('\u{1f}').filter(|t| !t.is_empty()) {
            conn.prepare_cached(
                "DELETE FROM contact_tags WHERE tenant = ?1 AND tag = ?2 AND contact = ?3",
            )
            .and_then(|mut s| s.execute(params![c.tenant.as_str(), tag, c.id.as_str()]))
            .map_err(unavailable)?;
        }
        for tag in &c.tags {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO contact_tags (tenant, tag, contact) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![c.tenant.as_str(), fold_tag(tag), c.id.as_str()]))
            .map_err(unavailable)?;
        }
    }
    if old_attributes != attributes {
        // Each old value by its key: the bundled SQLite, without statistics, read `tenant = ?
        // AND contact = ?` through the primary key's tenant prefix, a scan of every attribute
        // of the tenant per write (imports slowed to hundreds of rows a second).
        let old: BTreeMap<String, serde_json::Value> = if old_attributes.is_empty() {
            BTreeMap::new()
        } else {
            serde_json::from_str(&old_attributes)
                .map_err(|e| StoreError::Corrupt(format!("attributes: {e}")))?
        };
        for key in old.keys() {
            conn.prepare_cached(
                "DELETE FROM contact_attributes WHERE tenant = ?1 AND key = ?2 AND contact = ?3",
            )
            .and_then(|mut s| s.execute(params![c.tenant.as_str(), key, c.id.as_str()]))
            .map_err(unavailable)?;
        }
        for (k, v) in &c.attributes {
            let (text, folded, num) = attribute_columns(v);
            conn.prepare_cached(
                "INSERT INTO contact_attributes (tenant, key, contact, text, fold, num)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    c.tenant.as_str(),
                    k,
                    c.id.as_str(),
                    text,
                    folded,
                    num
                ])
            })
            .map_err(unavailable)?;
        }
    }
    Ok(())
}

/// Keeps a contact's rows in `contact_terms` in step with its folded name (`old` as stored
/// before, empty for a new contact).
fn write_terms(
    conn: &Connection,
    tenant: &TenantId,
    id: &ContactId,
    old: &str,
    new: &str,
) -> StoreResult<()> {
    let (old, new) = (name_terms(old), name_terms(new));
    for term in old.iter().filter(|t| !new.contains(t)) {
        conn.prepare_cached(
            "DELETE FROM contact_terms WHERE tenant = ?1 AND term = ?2 AND contact = ?3",
        )
        .and_then(|mut s| s.execute(params![tenant.as_str(), term, id.as_str()]))
        .map_err(unavailable)?;
    }
    for term in new.iter().filter(|t| !old.contains(t)) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO contact_terms (tenant, term, contact) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![tenant.as_str(), term, id.as_str()]))
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Writes the name terms of every stored contact, when migration 21 runs; returns how many
/// contacts have a name.
pub(super) fn index_names(conn: &Connection) -> StoreResult<u64> {
    let named: Vec<(String, String, String)> = conn
        .prepare("SELECT tenant, id, search FROM contacts_by_id WHERE search != ''")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(unavailable)?;
    for (tenant, id, search) in &named {
        let (tenant, id) = (TenantId::new(tenant.clone()), ContactId::new(id.clone()));
        write_terms(conn, &tenant, &id, "", search)?;
    }
    Ok(named.len() as u64)
}

fn insert_consent(
    conn: &Connection,
    tenant: &TenantId,
    contact: &ContactId,
    e: &ConsentEvidence,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO consent_by_contact (tenant, contact, at_ms, source, marketing,
           text, by_user) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            contact.as_str(),
            e.at,
            e.source.as_str(),
            e.marketing.as_str(),
            e.text,
            e.by.as_ref().map(UserId::as_str)
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

fn find(
    conn: &Connection,
    tenant: &TenantId,
    column: &str,
    value: &str,
) -> StoreResult<Option<ContactRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts_by_id WHERE tenant = ?1 AND {column} = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![tenant.as_str(), value], contact_from)
            .optional()
    })
    .map_err(unavailable)
}

fn find_customer(
    conn: &Connection,
    tenant: &TenantId,
    customer: &str,
) -> StoreResult<Option<ContactRecord>> {
    if is_phone_wa_id(customer) {
        find(conn, tenant, "phone", customer)
    } else {
        find(conn, tenant, "bsuid", customer)
    }
}

/// Applies what a webhook said about a customer: finds the contact by number, then by BSUID,
/// makes it when new, writes it only when something changed.
pub(super) fn touch(
    conn: &Connection,
    keys: &IdKeys,
    tenant: &TenantId,
    t: &ContactTouch,
    at: UnixMillis,
) -> StoreResult<()> {
    let mut found = match t.phone() {
        Some(p) => find(conn, tenant, "phone", p)?,
        None => None,
    };
    if found.is_none() {
        if let Some(b) = t.bsuid() {
            found = find(conn, tenant, "bsuid", b)?;
        }
    }
    let (mut contact, new) = match found {
        Some(c) => (c, false),
        None => {
            let identity = t.phone().or(t.bsuid()).unwrap_or(&t.customer);
            let id = keys.contact_id(tenant, identity);
            (ContactRecord::new(tenant.clone(), id, None, None, at), true)
        }
    };
    // A BSUID already on another contact stays there: merging is a person's decision.
    if contact.bsuid.is_none() {
        if let Some(b) = t.bsuid() {
            if find(conn, tenant, "bsuid", b)?.is_some_and(|other| other.id != contact.id) {
                let mut t = t.clone();
                t.bsuid = None;
                return apply_touch(conn, &mut contact, &t, at, new);
            }
        }
    }
    apply_touch(conn, &mut contact, t, at, new)
}

fn apply_touch(
    conn: &Connection,
    contact: &mut ContactRecord,
    t: &ContactTouch,
    at: UnixMillis,
    new: bool,
) -> StoreResult<()> {
    let mut t = t.clone();
    if !is_phone_wa_id(&t.customer) && t.bsuid.is_none() && contact.bsuid.is_some() {
        t.bsuid = contact.bsuid.clone();
    }
    if t.apply(contact, at) || new {
        write_contact(conn, contact)?;
    }
    for e in &t.consent {
        insert_consent(conn, &contact.tenant, &contact.id, e)?;
    }
    Ok(())
}

fn page_contacts(
    conn: &Connection,
    sql: &str,
    params: Vec<rusqlite::types::Value>,
) -> StoreResult<Vec<ContactRecord>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(params), contact_from)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)
}

fn delete_contact_rows(
    conn: &Connection,
    tenant: &TenantId,
    id: &ContactId,
) -> StoreResult<(bool, u64, u64)> {
    let Some(c) = find(conn, tenant, "id", id.as_str())? else {
        return Ok((false, 0, 0));
    };
    for tag in &c.tags {
        conn.prepare_cached(
            "DELETE FROM contact_tags WHERE tenant = ?1 AND tag = ?2 AND contact = ?3",
        )
        .and_then(|mut s| s.execute(params![tenant.as_str(), fold_tag(tag), id.as_str()]))
        .map_err(unavailable)?;
    }
    let run = |sql: &str| -> StoreResult<u64> {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute(params![tenant.as_str(), id.as_str()]))
            .map(|n| n as u64)
            .map_err(unavailable)
    };
    write_terms(conn, tenant, id, &fold(c.display_name().unwrap_or("")), "")?;
    run("DELETE FROM contact_attributes WHERE tenant = ?1 AND contact = ?2")?;
    let notes = run("DELETE FROM contact_notes_by_contact WHERE tenant = ?1 AND contact = ?2")?;
    let consent = run("DELETE FROM consent_by_contact WHERE tenant = ?1 AND contact = ?2")?;
    run("DELETE FROM contacts_by_id WHERE tenant = ?1 AND id = ?2")?;
    Ok((true, notes, consent))
}

/// One page of a name search (see [`NameQuery`]): the terms the query's longest word begins, in
/// (term, id) order, each contact read by key and kept by the query's rule.
fn search_names(
    conn: &Connection,
    tenant: &TenantId,
    name: &NameQuery,
    tag: Option<String>,
    (mut key, mut id): (String, String),
    limit: usize,
) -> StoreResult<Page<ContactRecord>> {
    let walk = name.walk().to_owned();
    if key.is_empty() {
        key.clone_from(&walk);
    }
    let mut found: Vec<(String, ContactRecord)> = Vec::new();
    let mut exhausted = false;
    'rounds: for _ in 0..SEARCH_ROUNDS {
        let rows: Vec<(String, String)> = conn
            .prepare_cached(
                "SELECT term, contact FROM contact_terms
                 WHERE tenant = ?1 AND term >= ?2 AND term < ?2 || char(1114111)
                   AND (term > ?3 OR (term = ?3 AND contact > ?4))
                 ORDER BY term, contact LIMIT ?5",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![tenant.as_str(), walk, key, id, SEARCH_ROWS as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)?;
        exhausted = rows.len() < SEARCH_ROWS;
        for (term, contact) in rows {
            (key, id) = (term, contact);
            let Some(c) = find(conn, tenant, "id", &id)? else {
                continue;
            };
            let tagged = tag
                .as_ref()
                .is_none_or(|t| c.tags.iter().any(|have| fold_tag(have) == *t));
            if tagged && name.keeps(&key, &fold(c.display_name().unwrap_or(""))) {
                found.push((key.clone(), c));
                if found.len() == limit {
                    exhausted = false;
                    break 'rounds;
                }
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(search_page(found, limit, exhausted, (&key, &id)))
}

/// Contacts made from `contacts_by_tenant` (what webhooks recorded before contacts existed),
/// with each customer's latest message, when migration 8 runs.
pub(super) fn backfill(conn: &Connection, keys: &IdKeys) -> StoreResult<()> {
    type Legacy = (String, String, Option<String>, Option<String>, i64);
    let rows: Vec<Legacy> = conn
        .prepare(
            "SELECT k.tenant, k.wa_id, k.name, k.user_id, k.updated_at FROM contacts_by_tenant k",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(unavailable)?;
    let mut last_in: std::collections::HashMap<(String, String), i64> = conn
        .prepare(
            "SELECT tenant, customer, MAX(at_ms) FROM messages_by_conversation
             WHERE direction = 'inbound' GROUP BY tenant, customer",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?
                .collect()
        })
        .map_err(unavailable)?;
    for (tenant, wa_id, name, user_id, at) in rows {
        let touch = ContactTouch {
            inbound_at: last_in.remove(&(tenant.clone(), wa_id.clone())),
            customer: wa_id,
            bsuid: user_id,
            profile_name: name,
            ..Default::default()
        };
        self::touch(conn, keys, &TenantId::new(tenant), &touch, at)?;
    }
    Ok(())
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn put_contact(
        &self,
        contact: &ContactRecord,
        consent: Option<&ConsentEvidence>,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        let (c, consent, audit) = (contact.clone(), consent.cloned(), audit.cloned());
        self.write(move |conn, _| {
            write_contact(conn, &c)?;
            if let Some(e) = &consent {
                insert_consent(conn, &c.tenant, &c.id, e)?;
            }
            if let Some(a) = &audit {
                insert_audit(conn, a)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
    ) -> StoreResult<Option<ContactRecord>> {
        let (t, id) = (tenant.clone(), id.clone());
        self.read(move |conn| find(conn, &t, "id", id.as_str()))
            .await
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> StoreResult<Option<ContactRecord>> {
        let (t, customer) = (tenant.clone(), customer.to_owned());
        self.read(move |conn| find_customer(conn, &t, &customer))
            .await
    }

    async fn contacts_by_phones(
        &self,
        tenant: &TenantId,
        phones: &[String],
    ) -> StoreResult<Vec<ContactRecord>> {
        let (t, phones) = (tenant.clone(), phones.to_vec());
        // One indexed point read each: SQLite plans `phone IN (SELECT … json_each)` as a scan of
        // the tenant (it has no statistics to prefer the number index), which made an import's
        // chunk reads grow with the contacts already stored.
        self.read(move |conn| {
            let mut out = Vec::with_capacity(phones.len());
            for phone in &phones {
                if let Some(c) = find(conn, &t, "phone", phone)? {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn touch_contacts(&self, touches: &[(TenantId, ContactTouch)]) -> StoreResult<()> {
        let touches = touches.to_vec();
        let at = now_ms();
        self.write(move |conn, keys| {
            for (tenant, t) in &touches {
                touch(conn, keys, tenant, t, at)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_contacts(
        &self,
        tenant: &TenantId,
        query: &ContactQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>> {
        let limit = check_limit(limit)?;
        let (t, q) = (tenant.clone(), query.clone());
        let (after_key, after_id) = match cursor {
            Some(c) => {
                let mut f = c.decode(2)?;
                let id = f.pop().unwrap_or_default();
                (f.pop().unwrap_or_default(), id)
            }
            None => (String::new(), String::new()),
        };
        let by_phone = query
            .prefix
            .as_deref()
            .is_some_and(|p| query.by_phone && p.bytes().all(|b| b.is_ascii_digit()));
        if let (Some(prefix), false) = (&query.prefix, by_phone) {
            let Some(name) = NameQuery::new(prefix) else {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            };
            let tag = query.tag.as_deref().map(fold_tag);
            return self
                .read(move |conn| search_names(conn, &t, &name, tag, (after_key, after_id), limit))
                .await;
        }
        // Ordered by the number when searching one, else by id.
        let order = if q.prefix.is_some() {
            "c.phone"
        } else {
            "c.id"
        };
        let items = self
            .read(move |conn| {
                let mut params: Vec<rusqlite::types::Value> = vec![t.as_str().to_owned().into()];
                // A search reads its page of ids from the index alone (named: the bundled SQLite,
                // without statistics, read the whole tenant and sorted it), then those contacts.
                let index = if order == "c.phone" {
                    "INDEXED BY contacts_by_phone"
                } else {
                    ""
                };
                let two_step = q.prefix.is_some() && q.tag.is_none();
                let mut sql = if two_step {
                    format!("SELECT c.id FROM contacts_by_id c {index} WHERE c.tenant = ?1")
                } else {
                    format!("SELECT {CONTACT_COLUMNS} FROM contacts_by_id c WHERE c.tenant = ?1")
                };
                if let Some(prefix) = &q.prefix {
                    params.push(prefix.clone().into());
                    sql.push_str(&format!(
                        " AND {order} >= ?2 AND {order} < ?2 || char(1114111)"
                    ));
                }
                if let Some(tag) = &q.tag {
                    params.push(format!("\u{1f}{}\u{1f}", fold_tag(tag)).into());
                    sql.push_str(&format!(" AND instr(c.tag_key, ?{}) > 0", params.len()));
                }
                if order == "c.id" {
                    params.push(after_id.clone().into());
                    sql.push_str(&format!(" AND c.id > ?{}", params.len()));
                } else {
                    params.push(after_key.clone().into());
                    params.push(after_id.clone().into());
                    let (k, i) = (params.len() - 1, params.len());
                    sql.push_str(&format!(
                        " AND ({order} > ?{k} OR ({order} = ?{k} AND c.id > ?{i}))"
                    ));
                }
                params.push((limit as i64).into());
                sql.push_str(&format!(" ORDER BY {order}, c.id LIMIT ?{}", params.len()));
                if !two_step {
                    return page_contacts(conn, &sql, params);
                }
                let ids: Vec<String> = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.query_map(params_from_iter(params), |r| r.get(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(unavailable)?;
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    if let Some(c) = find(conn, &t, "id", id)? {
                        out.push(c);
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(Page::of(items, limit, |c| {
            let key = match order {
                "c.phone" => c.phone.clone().unwrap_or_default(),
                _ => String::new(),
            };
            Cursor::encode(&[&key, c.id.as_str()])
        }))
    }

    async fn count_segment(
        &self,
        tenant: &TenantId,
        filter: &Filter,
        now: UnixMillis,
        open: &HashSet<String>,
    ) -> StoreResult<u64> {
        let compiled = compile(filter, tenant.as_str(), now, open);
        let t = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "SELECT count(*) FROM contacts_by_id c INDEXED BY contacts_segments
                 WHERE c.tenant = ?1 AND {}",
                compiled.sql
            );
            let mut params: Vec<rusqlite::types::Value> = vec![t.as_str().to_owned().into()];
            params.extend(compiled.params);
            conn.prepare(&sql)
                .and_then(|mut s| s.query_row(params_from_iter(params), |r| r.get::<_, i64>(0)))
                .map(|n| n as u64)
                .map_err(unavailable)
        })
        .await
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
        let after = Cursor::decode_text(cursor)?;
        let compiled = compile(filter, tenant.as_str(), now, open);
        let t = tenant.clone();
        let items = self
            .read(move |conn| {
                let mut params: Vec<rusqlite::types::Value> = vec![t.as_str().to_owned().into()];
                params.extend(compiled.params);
                params.push(after.into());
                params.push((limit as i64).into());
                let n = params.len();
                let sql = format!(
                    "SELECT {CONTACT_COLUMNS} FROM contacts_by_id c
                     WHERE c.tenant = ?1 AND {} AND c.id > ?{} ORDER BY c.id LIMIT ?{n}",
                    compiled.sql,
                    n - 1
                );
                conn.prepare(&sql)
                    .and_then(|mut s| {
                        s.query_map(params_from_iter(params), contact_from)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(items, limit, |c| {
            Cursor::after_text(c.id.as_str())
        }))
    }

    async fn delete_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool> {
        let (t, id, audit) = (tenant.clone(), id.clone(), audit.cloned());
        self.write(move |conn, _| {
            let (found, _, _) = delete_contact_rows(conn, &t, &id)?;
            if let (true, Some(a)) = (found, &audit) {
                insert_audit(conn, a)?;
            }
            Ok(found)
        })
        .await
    }

    async fn merge_contacts(
        &self,
        into: &ContactRecord,
        from: &ContactRecord,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let (into, from, audit) = (into.clone(), from.clone(), audit.clone());
        self.write(move |conn, _| {
            let t = into.tenant.as_str();
            for table in ["contact_notes_by_contact", "consent_by_contact"] {
                conn.execute(
                    &format!(
                        "UPDATE OR IGNORE {table} SET contact = ?1 WHERE tenant = ?2 AND contact = ?3"
                    ),
                    params![into.id.as_str(), t, from.id.as_str()],
                )
                .map_err(unavailable)?;
            }
            // The identities move: remove `from` before `into` takes its number or BSUID.
            delete_contact_rows(conn, &from.tenant, &from.id)?;
            write_contact(conn, &into)?;
            insert_audit(conn, &audit)
        })
        .await
    }

    async fn erase_contact(
        &self,
        contact: &ContactRecord,
        audit: &AuditRecord,
    ) -> StoreResult<ErasureReceipt> {
        let numbers: Vec<PhoneNumberId> = self
            .list_numbers(&contact.tenant)
            .await?
            .into_iter()
            .map(|n| n.phone_number_id)
            .collect();
        let (c, audit) = (contact.clone(), audit.clone());
        self.write(move |conn, keys| {
            let tenant = c.tenant.as_str();
            let mut receipt = ErasureReceipt {
                contact: c.id.clone(),
                messages: 0,
                conversations: 0,
                notes: 0,
                consent_records: 0,
                media_references: 0,
                at: audit.at_ms,
            };
            for customer in c.wa_ids() {
                for number in &numbers {
                    let conversation: ConversationId =
                        keys.conversation_id(&c.tenant, number, &WaId::new(customer.clone()));
                    erase_conversation(conn, tenant, conversation.as_str(), &mut receipt)?;
                }
                conn.execute(
                    "DELETE FROM contacts_by_tenant WHERE tenant = ?1 AND wa_id = ?2",
                    params![tenant, customer],
                )
                .map_err(unavailable)?;
            }
            let (_, notes, consent) = delete_contact_rows(conn, &c.tenant, &c.id)?;
            receipt.notes += notes;
            receipt.consent_records = consent;
            conn.execute(
                "DELETE FROM import_undo WHERE tenant = ?1 AND contact = ?2",
                params![tenant, c.id.as_str()],
            )
            .map_err(unavailable)?;
            let mut audit = audit;
            audit.after = serde_json::to_string(&receipt).ok();
            insert_audit(conn, &audit)?;
            Ok(receipt)
        })
        .await
    }

    async fn add_contact_note(&self, note: &ContactNoteRecord) -> StoreResult<()> {
        let n = note.clone();
        self.write(move |conn, _| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO contact_notes_by_contact (tenant, contact, at_ms, note_id,
                   author, author_name, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    n.tenant.as_str(),
                    n.contact.as_str(),
                    n.at_ms,
                    n.id,
                    n.author.as_str(),
                    n.author_name,
                    n.body
                ])
            })
            .map(|_| ())
            .map_err(unavailable)
        })
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
        let (before_at, before_id) = match cursor {
            Some(c) => {
                let (_, at, id) = c.decode_history()?;
                (at, id)
            }
            None => (i64::MAX, String::new()),
        };
        let (t, c) = (tenant.clone(), contact.clone());
        let items = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT at_ms, note_id, author, author_name, body FROM contact_notes_by_contact
                     WHERE tenant = ?1 AND contact = ?2
                       AND (at_ms < ?3 OR (at_ms = ?3 AND note_id < ?4))
                     ORDER BY at_ms DESC, note_id DESC LIMIT ?5",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![t.as_str(), c.as_str(), before_at, before_id, limit as i64],
                        |r| {
                            Ok(ContactNoteRecord {
                                tenant: t.clone(),
                                contact: c.clone(),
                                id: r.get("note_id")?,
                                author: UserId::new(r.get::<_, String>("author")?),
                                author_name: r.get("author_name")?,
                                body: r.get("body")?,
                                at_ms: r.get("at_ms")?,
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
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
        let (before_at, before_key) = match cursor {
            Some(c) => {
                let (_, at, key) = c.decode_history()?;
                (at, key)
            }
            None => (i64::MAX, String::new()),
        };
        let (t, c) = (tenant.clone(), contact.clone());
        let items = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT at_ms, source, marketing, text, by_user FROM consent_by_contact
                     WHERE tenant = ?1 AND contact = ?2
                       AND (at_ms < ?3 OR (at_ms = ?3 AND source || '/' || marketing < ?4))
                     ORDER BY at_ms DESC, source || '/' || marketing DESC LIMIT ?5",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![t.as_str(), c.as_str(), before_at, before_key, limit as i64],
                        |r| {
                            let source: String = r.get("source")?;
                            let marketing: String = r.get("marketing")?;
                            Ok(ConsentEvidence {
                                at: r.get("at_ms")?,
                                source: ConsentSource::parse(&source)
                                    .unwrap_or(ConsentSource::Manual),
                                marketing: Marketing::parse(&marketing).unwrap_or_default(),
                                text: r.get("text")?,
                                by: r.get::<_, Option<String>>("by_user")?.map(UserId::new),
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(items, limit, |e| {
            Cursor::history(
                0,
                e.at,
                &format!("{}/{}", e.source.as_str(), e.marketing.as_str()),
            )
        }))
    }
}

/// Removes one conversation's every trace, counting what went.
fn erase_conversation(
    conn: &Connection,
    tenant: &str,
    conversation: &str,
    receipt: &mut ErasureReceipt,
) -> StoreResult<()> {
    let rows: Vec<(String, String, String)> = conn
        .prepare_cached(
            "SELECT message_key, wamid, kind FROM messages_by_conversation
             WHERE tenant = ?1 AND conversation_id = ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![tenant, conversation], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .map_err(unavailable)?;
    for (key, wamid, kind) in &rows {
        if matches!(
            kind.as_str(),
            "image" | "video" | "audio" | "document" | "sticker"
        ) {
            receipt.media_references += 1;
        }
        conn.prepare_cached("DELETE FROM messages_by_key WHERE tenant = ?1 AND message_key = ?2")
            .and_then(|mut s| s.execute(params![tenant, key]))
            .map_err(unavailable)?;
        conn.prepare_cached("DELETE FROM statuses_by_message WHERE tenant = ?1 AND wamid = ?2")
            .and_then(|mut s| s.execute(params![tenant, wamid]))
            .map_err(unavailable)?;
    }
    receipt.messages += rows.len() as u64;
    let run = |sql: &str| -> StoreResult<usize> {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute(params![tenant, conversation]))
            .map_err(unavailable)
    };
    super::search::unindex_conversation(conn, tenant, conversation)?;
    run("DELETE FROM messages_by_conversation WHERE tenant = ?1 AND conversation_id = ?2")?;
    run("DELETE FROM buckets_by_conversation WHERE tenant = ?1 AND conversation_id = ?2")?;
    receipt.notes +=
        run("DELETE FROM notes_by_conversation WHERE tenant = ?1 AND conversation_id = ?2")? as u64;
    run("DELETE FROM threads_by_id WHERE tenant = ?1 AND conversation_id = ?2")?;
    run("DELETE FROM outbox_by_id WHERE tenant = ?1 AND conversation_id = ?2")?;
    receipt.conversations +=
        run("DELETE FROM conversations_by_id WHERE tenant = ?1 AND conversation_id = ?2")? as u64;
    Ok(())
}
