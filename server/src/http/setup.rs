//! The one-time setup page: a plain HTML form (no script, so it works before the PWA exists and
//! under the strict CSP) that creates the first administrator with the token printed at start.

use std::collections::HashMap;

use warp::http::HeaderMap;

use crate::api::ApiState;
use crate::auth::principal::SetupError;
use crate::auth::RequestMeta;
use crate::web::{client_ip, PeerAddr};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The answer to a client past its attempts: the form is not read, so the link still works
/// once the wait is over.
pub fn refused(message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard setup</title></head>\
         <body><h1>Not yet</h1><p>{}</p><p>Your setup link still works: go back and submit the form again then.</p></body></html>",
        escape(message)
    )
}

/// The form, carrying `token`, with an optional message.
pub fn page(token: Option<&str>, message: Option<&str>) -> String {
    let token = token.map(escape).unwrap_or_default();
    let message = message
        .map(|m| format!(r#"<p class="msg">{}</p>"#, escape(m)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard setup</title>
<style>
body {{ font: 16px system-ui, sans-serif; max-width: 26rem; margin: 2rem auto; padding: 0 1rem; }}
label {{ display: block; margin-top: 1rem; }}
input {{ width: 100%; padding: .5rem; font: inherit; box-sizing: border-box; }}
button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; font: inherit; }}
.msg {{ padding: .6rem; background: #fde8e8; border-radius: 4px; }}
</style></head>
<body>
<h1>Create the first administrator</h1>
<p>This link works once. The account you create owns the workspace.</p>
{message}
<form method="post" action="/setup">
<input type="hidden" name="token" value="{token}">
<label>Workspace name <input name="tenant_name" autocomplete="organization"></label>
<label>Your name <input name="name" required autocomplete="name"></label>
<label>Email <input name="email" type="email" required autocomplete="email"></label>
<label>Password (at least 10 characters)
<input name="password" type="password" required minlength="10" autocomplete="new-password"></label>
<button type="submit">Create</button>
</form>
</body></html>
"#
    )
}

pub async fn submit(
    state: ApiState,
    peer: Option<PeerAddr>,
    headers: HeaderMap,
    form: HashMap<String, String>,
) -> String {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let meta = RequestMeta {
        ip: client_ip(peer.map(|p| p.0.ip()), &headers, &state.trusted_proxies),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let tenant_name = Some(field("tenant_name")).filter(|n| !n.trim().is_empty());
    match state
        .auth
        .complete_setup(
            field("token"),
            tenant_name,
            field("name"),
            field("email"),
            field("password").to_owned(),
            meta,
        )
        .await
    {
        Ok(user) => format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard</title></head>\
             <body><h1>Done</h1><p>{} is the owner of the workspace. Sign in at <a href=\"/\">/</a>.</p></body></html>",
            escape(&user.email)
        ),
        Err(SetupError::InvalidToken) => page(None, Some(&SetupError::InvalidToken.to_string())),
        Err(e) => page(Some(field("token")), Some(&e.to_string())),
    }
}
