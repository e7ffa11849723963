//! Numbers connected at run time: an admin adds, changes, disables or removes a WhatsApp
//! number from the app, the API or the CLI, and the webhook receiver, the outbox, the governor
//! and routing use it at once (they share the [`NumberDirectory`]).
//!
//! Owns: checking a number with Meta before it is saved (a refused token is saved, flagged with
//! Meta's answer), sealing its secrets for the store, the directory's run-time entries, and the
//! tier Meta's throughput webhooks announce. Must not: know HTTP, or let a secret out: what it
//! answers never carries one. Numbers of the configuration file are the file's: listed, marked
//! so, never changed here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_shared::{PhoneNumberId, TenantId};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{Events, NumberDirectory, NumberEntry};
use crate::connector::{CloudApi, CloudApiError, NumberEndpoint};
use crate::domain::{now_ms, AccountEvent, AuditRecord, Connect, NumberConnection, NumberRecord};
use crate::secret::{Sealer, Secret};
use crate::store::{Store, StoreError};

/// How long saving a number waits for Meta's answer about it.
const CHECK_BUDGET: Duration = Duration::from_secs(10);

/// A number to connect.
#[derive(Clone, Debug)]
pub struct NumberInput {
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
    pub graph_api_url: Url,
    pub mps: u32,
    pub access_token: Secret,
    pub app_secret: Secret,
    pub verify_token: Secret,
}

impl NumberInput {
    /// What the audit log keeps of a number being connected: its settings, never its secrets.
    pub fn audit_snapshot(&self) -> String {
        serde_json::json!({
            "display_phone_number": self.display_phone_number,
            "waba_id": self.waba_id,
            "graph_api_url": self.graph_api_url.as_str(),
            "mps": self.mps,
        })
        .to_string()
    }
}

/// A change to a connected number: what is given replaces what was.
#[derive(Clone, Debug, Default)]
pub struct NumberChange {
    pub display_phone_number: Option<String>,
    pub waba_id: Option<Option<String>>,
    pub graph_api_url: Option<Url>,
    pub mps: Option<u32>,
    pub enabled: Option<bool>,
    pub access_token: Option<Secret>,
    pub app_secret: Option<Secret>,
    pub verify_token: Option<Secret>,
}

impl NumberChange {
    /// Whether the change touches how Switchboard reaches Meta as the number (then it is
    /// checked with Meta again).
    fn reaches_meta(&self) -> bool {
        self.graph_api_url.is_some() || self.access_token.is_some()
    }
}

/// One of a tenant's numbers as an admin sees it: never its secrets.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberView {
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
    /// `config` (the configuration file's, or the demo simulator's), `app` (connected at run
    /// time), or `none` (its connection was removed; its history stays).
    pub managed_by: &'static str,
    pub graph_api_url: Option<String>,
    pub mps: Option<u32>,
    pub enabled: bool,
    /// What Meta said when the number was last checked, when it refused.
    pub problem: Option<String>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum NumbersError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the configuration manages number {0}; change it there")]
    FromFile(PhoneNumberId),
    #[error("number {0} belongs to another workspace")]
    Taken(PhoneNumberId),
    #[error("number {0} is connected already; change it instead")]
    Exists(PhoneNumberId),
    #[error("no connected number {0}")]
    NotFound(PhoneNumberId),
    #[error("{0}")]
    Unsealable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> NumbersError {
    NumbersError::Invalid {
        field,
        reason: reason.into(),
    }
}

#[derive(Clone)]
pub struct Numbers {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    directory: NumberDirectory,
    sealer: Sealer,
    api: CloudApi,
    /// Each run-time number in the directory and the `updated_at` of the stored version it was
    /// made from, so a refresh rebuilds only what another server or the CLI changed.
    known: std::sync::Mutex<HashMap<PhoneNumberId, i64>>,
}

/// How often the stored connections are read again for changes made elsewhere (the CLI, or
/// another server on the same ScyllaDB store).
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

impl Numbers {
    pub fn new(
        store: Arc<dyn Store>,
        directory: NumberDirectory,
        sealer: Sealer,
        api: CloudApi,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                directory,
                sealer,
                api,
                known: Default::default(),
            }),
        }
    }

    /// The configuration's numbers of this tenant are not changed here.
    fn refuse_config(&self, tenant: &TenantId, id: &PhoneNumberId) -> Result<(), NumbersError> {
        match self.inner.directory.get(id) {
            Some(e) if e.from_config && &e.tenant == tenant => {
                Err(NumbersError::FromFile(id.clone()))
            }
            _ => Ok(()),
        }
    }

    /// The directory this service keeps (shared by every service that sends or receives).
    pub fn directory(&self) -> NumberDirectory {
        self.inner.directory.clone()
    }

    fn know(&self, id: &PhoneNumberId, updated_at: Option<i64>) {
        let mut known = self.inner.known.lock().unwrap_or_else(|p| p.into_inner());
        match updated_at {
            Some(at) => known.insert(id.clone(), at),
            None => known.remove(id),
        };
    }

    /// Reads the stored connections again every [`REFRESH_EVERY`] until `shutdown`.
    pub fn spawn_refresh(&self, shutdown: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = this.refresh().await {
                    tracing::warn!(error = %e, "could not read the connected numbers again");
                }
            }
        });
    }

    /// Brings the directory in line with the store: numbers connected, changed or removed
    /// elsewhere (the CLI, another server) go into service, change or leave it. Returns how
    /// many changed.
    pub async fn refresh(&self) -> Result<usize, StoreError> {
        let stored = self.inner.store.number_connections().await?;
        let known = self
            .inner
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut changed = 0;
        for c in &stored {
            if known.get(&c.phone_number_id) == Some(&c.updated_at)
                || self
                    .inner
                    .directory
                    .get(&c.phone_number_id)
                    .is_some_and(|e| e.from_config)
            {
                continue;
            }
            match self.entry_of(c) {
                Ok(entry) => {
                    tracing::info!(number = %c.phone_number_id, tenant = %c.tenant, "a number changed elsewhere is in service as stored");
                    self.inner.directory.put(entry);
                }
                Err(e) => {
                    tracing::error!(number = %c.phone_number_id, error = %e, "a number changed elsewhere cannot be used");
                    self.inner.directory.remove(&c.phone_number_id);
                }
            }
            self.know(&c.phone_number_id, Some(c.updated_at));
            changed += 1;
        }
        for id in known.keys() {
            if !stored.iter().any(|c| &c.phone_number_id == id) {
                tracing::info!(number = %id, "a number removed elsewhere left service");
                if self.inner.directory.get(id).is_some_and(|e| !e.from_config) {
                    self.inner.directory.remove(id);
                }
                self.know(id, None);
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Puts the numbers connected from the app in service (at start, after the file's). One
    /// whose id the file names stays the file's; one whose secrets do not open (another key)
    /// is left out, with the reason in the log and in its `problem`. Returns how many.
    pub async fn load(&self) -> Result<usize, StoreError> {
        let mut loaded = 0;
        for c in self.inner.store.number_connections().await? {
            if let Some(existing) = self.inner.directory.get(&c.phone_number_id) {
                if existing.from_config {
                    tracing::warn!(number = %c.phone_number_id, "a number connected from the app is also in the configuration file; the file's settings are used");
                    continue;
                }
            }
            self.know(&c.phone_number_id, Some(c.updated_at));
            match self.entry_of(&c) {
                Ok(entry) => {
                    self.inner.directory.put(entry);
                    loaded += 1;
                }
                Err(e) => {
                    tracing::error!(number = %c.phone_number_id, tenant = %c.tenant, error = %e, "a connected number is out of service");
                    let flagged = NumberConnection {
                        problem: Some(e.to_string()),
                        ..c
                    };
                    self.inner.store.update_connection(&flagged, None).await?;
                }
            }
        }
        Ok(loaded)
    }

    /// Follows Meta's account notices: a `THROUGHPUT_UPGRADE` moves the number to 1,000
    /// messages per second (the governor follows on its next send).
    pub fn follow(&self, events: &Events, shutdown: CancellationToken) {
        let this = self.clone();
        events.follow_notices(shutdown, move |notice| {
            let this = this.clone();
            async move {
                match notice {
                    Some((tenant, event)) => {
                        if let Err(e) = this.on_notice(&tenant, &event).await {
                            tracing::warn!(error = %e, "a number's new tier was not stored");
                        }
                    }
                    None => tracing::warn!("numbers missed account notices"),
                }
            }
        });
    }

    /// Applies a `phone_number_quality_update` that raises the number's throughput.
    pub async fn on_notice(
        &self,
        tenant: &TenantId,
        event: &AccountEvent,
    ) -> Result<(), StoreError> {
        if event.field != "phone_number_quality_update" {
            return Ok(());
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&event.raw) else {
            return Ok(());
        };
        if value["event"] != "THROUGHPUT_UPGRADE" {
            return Ok(());
        }
        let display = value["display_phone_number"].as_str().unwrap_or_default();
        let Some(entry) = self.inner.directory.entries().into_iter().find(|e| {
            &e.tenant == tenant
                && (event.number.as_ref() == Some(&e.phone_number_id)
                    || same_digits(&e.display_phone_number, display))
        }) else {
            return Ok(());
        };
        const HIGH: u32 = 1_000;
        if entry.mps >= HIGH {
            return Ok(());
        }
        tracing::info!(number = %entry.phone_number_id, %tenant, "Meta raised the number's throughput to {HIGH} messages per second");
        let mut raised = NumberEntry::clone(&entry);
        raised.mps = HIGH;
        self.inner.directory.put(raised);
        if entry.from_config {
            tracing::warn!(number = %entry.phone_number_id, "set mps = {HIGH} for this number in the configuration file, or a restart goes back to its tier there");
            return Ok(());
        }
        if let Some(mut c) = self.connection(tenant, &entry.phone_number_id).await? {
            c.mps = HIGH;
            c.updated_at = now_ms();
            self.inner.store.update_connection(&c, None).await?;
            self.know(&c.phone_number_id, Some(c.updated_at));
        }
        Ok(())
    }

    /// The tenant's numbers: the file's, the connected, and those whose connection was removed.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<NumberView>, StoreError> {
        let connections = self.inner.store.number_connections().await?;
        let records = self.inner.store.list_numbers(tenant).await?;
        Ok(records
            .into_iter()
            .map(|r| {
                let entry = self.inner.directory.get(&r.phone_number_id);
                let connection = connections
                    .iter()
                    .find(|c| c.phone_number_id == r.phone_number_id && &c.tenant == tenant);
                view(r, entry.as_deref(), connection)
            })
            .collect())
    }

    /// One of the tenant's numbers.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &PhoneNumberId,
    ) -> Result<Option<NumberView>, StoreError> {
        Ok(self
            .list(tenant)
            .await?
            .into_iter()
            .find(|v| &v.phone_number_id == id))
    }

    /// Connects a number: checks it with Meta (a refusal is kept as its `problem`; it is saved
    /// all the same, so a token fixed at Meta's end needs no re-entry of the rest), seals its
    /// secrets, stores it with `audit`, and puts it in service.
    pub async fn add(
        &self,
        tenant: &TenantId,
        input: NumberInput,
        audit: AuditRecord,
    ) -> Result<NumberView, NumbersError> {
        check_input(&input)?;
        let id = input.phone_number_id.clone();
        if let Some(existing) = self.inner.directory.get(&id) {
            if existing.from_config {
                // Another workspace's is only "taken": its configuration is not this one's
                // business.
                return Err(if &existing.tenant == tenant {
                    NumbersError::FromFile(id)
                } else {
                    NumbersError::Taken(id)
                });
            }
        }
        let endpoint = NumberEndpoint {
            graph_api_url: input.graph_api_url.clone(),
            phone_number_id: id.to_string(),
            access_token: input.access_token.clone(),
        };
        let checked = self.check(&endpoint).await;
        let mut display = input.display_phone_number.trim().to_owned();
        let mut mps = input.mps;
        let problem = match checked {
            Ok(info) => {
                if display.is_empty() {
                    display = info.display_phone_number.clone().unwrap_or_default();
                }
                if let Some(tier) = info.mps() {
                    mps = mps.max(tier);
                }
                None
            }
            Err(problem) => Some(problem),
        };
        if display.is_empty() {
            return Err(invalid(
                "display_phone_number",
                "required when Meta cannot be asked for it",
            ));
        }
        let connection = NumberConnection {
            tenant: tenant.clone(),
            phone_number_id: id.clone(),
            display_phone_number: display,
            waba_id: input.waba_id.clone(),
            graph_api_url: input.graph_api_url.to_string(),
            mps,
            enabled: true,
            access_token: self.seal(&id, "access_token", &input.access_token),
            app_secret: self.seal(&id, "app_secret", &input.app_secret),
            verify_token: self.seal(&id, "verify_token", &input.verify_token),
            problem,
            updated_at: now_ms(),
        };
        match self.inner.store.connect_number(&connection, &audit).await? {
            Connect::Connected => {}
            Connect::Taken => return Err(NumbersError::Taken(id)),
            Connect::Exists => return Err(NumbersError::Exists(id)),
        }
        let entry = self.entry_of(&connection)?;
        self.inner.directory.put(entry.clone());
        self.know(&id, Some(connection.updated_at));
        tracing::info!(number = %id, %tenant, problem = ?connection.problem, "number connected");
        Ok(view(connection.record(), Some(&entry), Some(&connection)))
    }

    /// Changes a connected number; checked with Meta again when its URL or token changes.
    pub async fn change(
        &self,
        tenant: &TenantId,
        id: &PhoneNumberId,
        change: NumberChange,
        audit: AuditRecord,
    ) -> Result<NumberView, NumbersError> {
        self.refuse_config(tenant, id)?;
        let before = self
            .connection(tenant, id)
            .await?
            .ok_or_else(|| NumbersError::NotFound(id.clone()))?;
        let mut after = before.clone();
        if let Some(display) = &change.display_phone_number {
            let display = display.trim();
            if display.is_empty() || display.len() > 32 {
                return Err(invalid("display_phone_number", "1 to 32 characters"));
            }
            after.display_phone_number = display.to_owned();
        }
        if let Some(waba) = &change.waba_id {
            check_waba(waba.as_deref())?;
            after.waba_id = waba.clone();
        }
        if let Some(url) = &change.graph_api_url {
            check_url(url)?;
            after.graph_api_url = url.to_string();
        }
        if let Some(mps) = change.mps {
            check_mps(mps)?;
            after.mps = mps;
        }
        if let Some(enabled) = change.enabled {
            after.enabled = enabled;
        }
        for (field, secret, slot) in [
            (
                "access_token",
                &change.access_token,
                &mut after.access_token,
            ),
            ("app_secret", &change.app_secret, &mut after.app_secret),
            (
                "verify_token",
                &change.verify_token,
                &mut after.verify_token,
            ),
        ] {
            if let Some(secret) = secret {
                check_secret(field, secret)?;
                *slot = self.seal(id, field, secret);
            }
        }
        if change.reaches_meta() {
            let current = self.entry_of(&after)?;
            after.problem = self.check(&current.endpoint).await.err();
        }
        after.updated_at = now_ms();
        if !self
            .inner
            .store
            .update_connection(&after, Some(&audit))
            .await?
        {
            return Err(NumbersError::NotFound(id.clone()));
        }
        let entry = self.entry_of(&after)?;
        self.inner.directory.put(entry.clone());
        self.know(id, Some(after.updated_at));
        Ok(view(after.record(), Some(&entry), Some(&after)))
    }

    /// Removes a connected number's connection and secrets: it leaves service at once; its
    /// history stays, and it can be connected again.
    pub async fn remove(
        &self,
        tenant: &TenantId,
        id: &PhoneNumberId,
        audit: AuditRecord,
    ) -> Result<(), NumbersError> {
        self.refuse_config(tenant, id)?;
        if !self
            .inner
            .store
            .disconnect_number(tenant, id, &audit)
            .await?
        {
            return Err(NumbersError::NotFound(id.clone()));
        }
        if self
            .inner
            .directory
            .get(id)
            .is_some_and(|e| &e.tenant == tenant)
        {
            self.inner.directory.remove(id);
        }
        self.know(id, None);
        tracing::info!(number = %id, %tenant, "number connection removed");
        Ok(())
    }

    async fn connection(
        &self,
        tenant: &TenantId,
        id: &PhoneNumberId,
    ) -> Result<Option<NumberConnection>, StoreError> {
        Ok(self
            .inner
            .store
            .number_connections()
            .await?
            .into_iter()
            .find(|c| &c.phone_number_id == id && &c.tenant == tenant))
    }

    /// Asks Meta about the number; what it refused, in words, otherwise.
    async fn check(
        &self,
        endpoint: &NumberEndpoint,
    ) -> Result<crate::connector::wire::PhoneNumberInfo, String> {
        match tokio::time::timeout(CHECK_BUDGET, self.inner.api.phone_number(endpoint)).await {
            Ok(Ok(info)) => Ok(info),
            Ok(Err(e)) => Err(describe_refusal(&e)),
            Err(_) => Err(format!(
                "Meta did not answer within {} s",
                CHECK_BUDGET.as_secs()
            )),
        }
    }

    fn seal(&self, id: &PhoneNumberId, field: &str, secret: &Secret) -> Vec<u8> {
        self.inner.sealer.seal(&context(id, field), secret)
    }

    fn open(
        &self,
        c: &NumberConnection,
        field: &str,
        sealed: &[u8],
    ) -> Result<Secret, NumbersError> {
        self.inner
            .sealer
            .open(&context(&c.phone_number_id, field), sealed)
            .map_err(|e| NumbersError::Unsealable(format!("{field}: {e}")))
    }

    fn entry_of(&self, c: &NumberConnection) -> Result<NumberEntry, NumbersError> {
        let graph_api_url =
            Url::parse(&c.graph_api_url).map_err(|e| invalid("graph_api_url", e.to_string()))?;
        Ok(NumberEntry {
            tenant: c.tenant.clone(),
            phone_number_id: c.phone_number_id.clone(),
            display_phone_number: c.display_phone_number.clone(),
            waba_id: c.waba_id.clone(),
            app_secret: self.open(c, "app_secret", &c.app_secret)?,
            verify_token: self.open(c, "verify_token", &c.verify_token)?,
            endpoint: NumberEndpoint {
                graph_api_url,
                phone_number_id: c.phone_number_id.to_string(),
                access_token: self.open(c, "access_token", &c.access_token)?,
            },
            mps: c.mps,
            from_config: false,
            enabled: c.enabled,
        })
    }
}

/// What a sealed secret is bound to: its number and its field.
fn context(id: &PhoneNumberId, field: &str) -> String {
    format!("number/{id}/{field}")
}

fn same_digits(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    !b.is_empty() && digits(a) == digits(b)
}

fn describe_refusal(e: &CloudApiError) -> String {
    match e.code() {
        Some(190) => format!("Meta refused the access token (190): {e}"),
        Some(code) => format!("Meta refused the number ({code}): {e}"),
        None => format!("Meta could not be reached: {e}"),
    }
}

fn view(
    r: NumberRecord,
    entry: Option<&NumberEntry>,
    connection: Option<&NumberConnection>,
) -> NumberView {
    let from_config = entry.is_some_and(|e| e.from_config && e.tenant == r.tenant);
    let managed_by = if from_config {
        "config"
    } else if connection.is_some() {
        "app"
    } else {
        "none"
    };
    NumberView {
        managed_by,
        graph_api_url: if from_config {
            entry.map(|e| e.endpoint.graph_api_url.to_string())
        } else {
            connection.map(|c| c.graph_api_url.clone())
        },
        mps: entry
            .filter(|e| e.tenant == r.tenant)
            .map(|e| e.mps)
            .or(connection.map(|c| c.mps)),
        enabled: if from_config {
            true
        } else {
            connection.is_some_and(|c| c.enabled)
        },
        problem: connection.and_then(|c| c.problem.clone()),
        updated_at: connection.map(|c| c.updated_at),
        phone_number_id: r.phone_number_id,
        display_phone_number: r.display_phone_number,
        waba_id: r.waba_id,
    }
}

fn check_input(input: &NumberInput) -> Result<(), NumbersError> {
    let id = input.phone_number_id.as_str();
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("phone_number_id", "Meta's numeric phone number id"));
    }
    if input.display_phone_number.trim().len() > 32 {
        return Err(invalid("display_phone_number", "at most 32 characters"));
    }
    check_waba(input.waba_id.as_deref())?;
    check_url(&input.graph_api_url)?;
    check_mps(input.mps)?;
    check_secret("access_token", &input.access_token)?;
    check_secret("app_secret", &input.app_secret)?;
    check_secret("verify_token", &input.verify_token)?;
    Ok(())
}

fn check_waba(waba: Option<&str>) -> Result<(), NumbersError> {
    match waba {
        Some(w) if w.is_empty() || w.len() > 32 || !w.chars().all(|c| c.is_ascii_digit()) => Err(
            invalid("waba_id", "Meta's numeric WhatsApp Business Account id"),
        ),
        _ => Ok(()),
    }
}

fn check_url(url: &Url) -> Result<(), NumbersError> {
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "graph_api_url",
            "an http(s) URL such as https://graph.facebook.com/v23.0",
        ));
    }
    Ok(())
}

fn check_mps(mps: u32) -> Result<(), NumbersError> {
    if !(1..=1_000).contains(&mps) {
        return Err(invalid(
            "mps",
            "messages per second of the number's tier: 1 to 1000 (Meta's default is 80)",
        ));
    }
    Ok(())
}

fn check_secret(field: &'static str, secret: &Secret) -> Result<(), NumbersError> {
    let value = secret.expose();
    if value.is_empty() || value.len() > 1024 {
        return Err(invalid(field, "1 to 1024 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "no control characters"));
    }
    // Meta's tokens and secrets hold no spaces: one here was pasted with its surroundings. A
    // verify token is the business's own choice, spaces and all.
    if field != "verify_token" && value.chars().any(char::is_whitespace) {
        return Err(invalid(field, "no spaces (pasted with its surroundings?)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_numbers_compare_by_their_digits() {
        assert!(same_digits("+1 555-078-3881", "15550783881"));
        assert!(!same_digits("15550783881", ""));
        assert!(!same_digits("15550783881", "15550783882"));
    }

    #[test]
    fn inputs_are_checked_field_by_field() {
        let good = NumberInput {
            phone_number_id: PhoneNumberId::from("1234567890"),
            display_phone_number: "15550001111".into(),
            waba_id: Some("987".into()),
            graph_api_url: Url::parse("https://graph.facebook.com/v23.0").unwrap(),
            mps: 80,
            access_token: Secret::new("EAAG"),
            app_secret: Secret::new("s"),
            verify_token: Secret::new("v"),
        };
        assert!(check_input(&good).is_ok());
        let field = |input: NumberInput| match check_input(&input) {
            Err(NumbersError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(NumberInput {
                phone_number_id: PhoneNumberId::from("12ab"),
                ..good.clone()
            }),
            "phone_number_id"
        );
        assert_eq!(
            field(NumberInput {
                mps: 0,
                ..good.clone()
            }),
            "mps"
        );
        assert_eq!(
            field(NumberInput {
                graph_api_url: Url::parse("ftp://graph.facebook.com").unwrap(),
                ..good.clone()
            }),
            "graph_api_url"
        );
        assert_eq!(
            field(NumberInput {
                app_secret: Secret::new("a b"),
                ..good.clone()
            }),
            "app_secret"
        );
        assert_eq!(
            field(NumberInput {
                waba_id: Some("x".into()),
                ..good
            }),
            "waba_id"
        );
    }
}
