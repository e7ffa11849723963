//! The operator CLI against the real binary: tenants and users are created, listed, disabled and
//! re-enabled, passwords reset from standard input; bad input gets a clear message, a non-zero
//! exit and changes nothing.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use switchboard_e2e::binary;
use switchboard_server::auth::password;
use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};
use switchboard_server::store::IdentityStore;

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("switchboard.toml"),
            format!("data_dir = \"{}\"\n", dir.path().join("data").display()),
        )
        .unwrap();
        Self { dir }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(binary("switchboard"))
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("switchboard.toml"))
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: &str, message: &str) {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: expected {message:?} in {stderr:?}"
        );
        assert!(
            !stderr.contains("Stack backtrace"),
            "no backtrace for an operator's mistake"
        );
    }

    /// The server's store, opened read-only as `switchboard export` does.
    fn store(&self) -> SqliteStore {
        SqliteStore::open(
            &self.dir.path().join("data/switchboard.db"),
            SqliteOptions {
                read_only: true,
                ..SqliteOptions::default()
            },
        )
        .unwrap()
    }

    fn user_hash(&self, email: &str) -> (String, bool, i64) {
        let store = self.store();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let user = runtime
            .block_on(store.user_by_email(email))
            .unwrap()
            .expect("the user exists");
        (user.password_hash, user.disabled, user.session_epoch)
    }
}

#[test]
fn tenants_and_users_are_managed_from_the_command_line() {
    let cli = Cli::new();
    assert!(cli
        .ok(&["tenant", "create", "acme", "--name", "Acme Ltd"], "")
        .contains("created tenant acme"));
    cli.fails(&["tenant", "create", "acme"], "", "already exists");
    cli.fails(
        &["tenant", "create", "Not A Slug"],
        "",
        "not a valid tenant id",
    );
    assert_eq!(cli.ok(&["tenant", "list"], ""), "acme\tAcme Ltd\n");

    let created = cli.ok(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "Ada@Acme.example",
            "--role",
            "admin",
        ],
        "correct horse battery staple\n",
    );
    assert!(
        created.contains("created user ada@acme.example"),
        "{created}"
    );
    let (hash, disabled, epoch) = cli.user_hash("ada@acme.example");
    assert!(
        password::verify("correct horse battery staple", &hash),
        "the password from stdin, newline excluded"
    );
    assert!(!disabled && epoch == 0);

    cli.fails(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "ADA@acme.example",
        ],
        "another long password\n",
        "already exists",
    );
    cli.fails(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@acme.example",
        ],
        "short\n",
        "at least 10 characters",
    );
    cli.fails(
        &[
            "user",
            "create",
            "--tenant",
            "nope",
            "--email",
            "bob@acme.example",
        ],
        "long enough password\n",
        "no tenant `nope`",
    );
    cli.fails(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@acme.example",
            "--role",
            "god",
        ],
        "long enough password\n",
        "unknown role `god`",
    );
    cli.fails(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "not-an-email",
        ],
        "long enough password\n",
        "not a valid email",
    );
    cli.fails(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@acme.example",
        ],
        "",
        "no password on standard input",
    );
    let listed = cli.ok(&["user", "list", "--tenant", "acme"], "");
    assert_eq!(
        listed.lines().count(),
        1,
        "nothing refused was written: {listed}"
    );
    assert!(listed.starts_with("ada@acme.example\tada\tadmin\tactive\t"));

    cli.ok(&["user", "disable", "ada@acme.example"], "");
    let (_, disabled, epoch) = cli.user_hash("ada@acme.example");
    assert!(disabled && epoch == 1, "disabling ends every session");
    assert!(cli
        .ok(&["user", "list", "--tenant", "acme"], "")
        .contains("\tdisabled\t"));
    cli.ok(&["user", "enable", "ada@acme.example"], "");

    cli.ok(
        &["user", "reset-password", "ada@acme.example"],
        "a brand new passphrase\r\n",
    );
    let (new_hash, disabled, epoch) = cli.user_hash("ada@acme.example");
    assert!(password::verify("a brand new passphrase", &new_hash));
    assert!(!password::verify("correct horse battery staple", &new_hash));
    assert!(
        !disabled && epoch == 3,
        "enabling and resetting each end sessions too"
    );
    cli.fails(
        &["user", "reset-password", "nobody@acme.example"],
        "whatever long enough\n",
        "no user with email",
    );
}

#[test]
fn api_keys_are_created_once_listed_and_revoked_with_audit_lines() {
    let cli = Cli::new();
    cli.ok(&["tenant", "create", "acme"], "");
    let secret = cli.ok(
        &[
            "api-key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "CRM sync",
            "--permission",
            "audit.view",
            "--permission",
            "contacts.read",
        ],
        "",
    );
    let secret = secret.trim();
    assert!(secret.starts_with("sbk_"), "{secret}");
    cli.fails(
        &[
            "api-key",
            "create",
            "--tenant",
            "acme",
            "--name",
            "x",
            "--permission",
            "root",
        ],
        "",
        "unknown permission `root`",
    );
    let listed = cli.ok(&["api-key", "list", "--tenant", "acme"], "");
    assert!(listed.contains("CRM sync\tlive\taudit.view,contacts.read\tnever used"));
    assert!(
        !listed.contains(&secret[10..]),
        "the secret is never listed"
    );
    let id = listed.split('\t').next().unwrap().to_owned();
    assert!(cli
        .ok(&["api-key", "revoke", "--tenant", "acme", &id], "")
        .contains("revoked"));
    cli.fails(
        &["api-key", "revoke", "--tenant", "acme", &id],
        "",
        "no live API key",
    );
    cli.fails(
        &["api-key", "revoke", "--tenant", "other", &id],
        "",
        "no live API key",
    );
    assert!(cli
        .ok(&["api-key", "list", "--tenant", "acme"], "")
        .contains("\trevoked\t"));

    // The CLI is no back door: its actions are in the tenant's audit log.
    let store = cli.store();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let page = runtime
        .block_on(store.audit_log(
            &switchboard_shared::TenantId::from("acme"),
            &switchboard_server::domain::AuditQuery::default(),
            None,
            10,
        ))
        .unwrap();
    let actions: Vec<(&str, bool)> = page
        .items
        .iter()
        .map(|l| (l.action.as_str(), l.actor.starts_with("cli:")))
        .collect();
    assert_eq!(
        actions,
        vec![("api_key.revoke", true), ("api_key.create", true)]
    );
    assert!(page.items[0]
        .after
        .as_deref()
        .unwrap()
        .contains("revoked_at"));
}

#[test]
fn migrate_applies_the_schema_lists_the_ledger_and_refuses_a_changed_migration() {
    let cli = Cli::new();
    let listed = cli.ok(&["migrate"], "");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines.len(),
        switchboard_server::store::sqlite::MIGRATIONS.len(),
        "{listed}"
    );
    for (line, m) in lines
        .iter()
        .zip(switchboard_server::store::sqlite::MIGRATIONS)
    {
        assert!(
            line.contains(m.name) && line.contains(&m.checksum()),
            "{line} names {} and its checksum",
            m.name
        );
    }
    assert_eq!(
        cli.ok(&["migrate"], ""),
        listed,
        "a second run applies nothing"
    );

    // An applied migration whose recorded text differs from the file stops it, naming the file.
    let db = cli.dir.path().join("data/switchboard.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("UPDATE schema_ledger SET checksum = 'x' WHERE version = 2")
        .unwrap();
    cli.fails(&["migrate"], "", "0002_identity.sql");
}

/// A webhook from a customer to `number` of WABA `waba`, signed with `secret`.
fn webhook_for(
    server: &switchboard_e2e::ServerProcess,
    number: &str,
    waba: &str,
    secret: &str,
    wamid: &str,
) -> u16 {
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": waba, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15557770000", "phone_number_id": number},
            "contacts": [{"profile": {"name": "Customer"}, "wa_id": "79160001111"}],
            "messages": [{"from": "79160001111", "id": wamid, "timestamp": "1749416383",
                          "type": "text", "text": {"body": "hello"}}]
        }}]}]
    })
    .to_string();
    server.post_webhook_signed(
        body.as_bytes(),
        Some(&switchboard_e2e::sign(secret, body.as_bytes())),
    )
}

#[test]
fn numbers_are_connected_from_the_command_line_and_a_running_server_follows() {
    use std::time::Duration;
    use switchboard_e2e::{wait_for, ServerProcess};
    const NUMBER: &str = "777000777000777";
    const SECRET: &str = "the-cli-number-app-secret";
    // Meta is not reachable here (port 9): the number is saved flagged, and works all the same.
    let server = ServerProcess::with_numbers("http://127.0.0.1:9/v23.0");
    assert_eq!(
        webhook_for(&server, NUMBER, "7770", SECRET, "wamid.cli.0"),
        401
    );
    server.cli(
        &[
            "number",
            "add",
            "--tenant",
            "demo",
            "--phone-number-id",
            NUMBER,
            "--display-phone-number",
            "15557770000",
            "--waba-id",
            "7770",
            "--graph-api-url",
            "http://127.0.0.1:9/v23.0",
        ],
        &format!("EAAG-cli-token\n{SECRET}\ncli verify token\n"),
    );
    // The running server reads the change: its webhooks are taken without a restart.
    wait_for(
        "the server to take the CLI's number",
        Duration::from_secs(20),
        || (webhook_for(&server, NUMBER, "7770", SECRET, "wamid.cli.1") == 200).then_some(()),
    );
    server.cli(&["number", "disable", "--tenant", "demo", NUMBER], "");
    server.cli(&["number", "remove", "--tenant", "demo", NUMBER], "");
    wait_for(
        "the server to drop the removed number",
        Duration::from_secs(20),
        || (webhook_for(&server, NUMBER, "7770", SECRET, "wamid.cli.2") == 401).then_some(()),
    );

    // Bad input: a clear message, a non-zero exit, nothing stored.
    let cli = Cli::new();
    cli.fails(
        &[
            "number",
            "add",
            "--tenant",
            "nobody",
            "--phone-number-id",
            "1",
        ],
        "token\nsecret\nverify\n",
        "no tenant `nobody`",
    );
    cli.ok(&["tenant", "create", "acme"], "");
    cli.fails(
        &[
            "number",
            "add",
            "--tenant",
            "acme",
            "--phone-number-id",
            "12ab",
        ],
        "token\nsecret\nverify\n",
        "phone_number_id: Meta's numeric phone number id",
    );
    cli.fails(
        &[
            "number",
            "add",
            "--tenant",
            "acme",
            "--phone-number-id",
            "123",
        ],
        "token only\n",
        "no app secret on standard input",
    );
    assert_eq!(cli.ok(&["number", "list", "--tenant", "acme"], ""), "");
}
