//! Bot flows as a pure decision: checking a flow before it is saved, and walking a run through
//! it one event at a time (the customer's reply, an HTTP answer), saying what to send, what to
//! store and what to fetch. No I/O and no clock: `service::automation` performs the effects and
//! keeps the run.
//!
//! Owns: the graph's rules (every step reachable, every link to a step that exists, no loop a
//! customer cannot leave because nothing in it waits for them, menus within WhatsApp's limits),
//! templates (`{{var}}`, `{{contact.name}}`), checking answers, matching a menu choice, the
//! address guard HTTP steps go through. Must not: send, store, fetch or read the time.
//!
//! A run replayed from its stored state makes the same effects with the same sequence numbers:
//! that is what lets the service key each message in the outbox so a crash never sends twice.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_shared::flow::*;
use switchboard_shared::interactive::{Button, InteractiveInput, List, Row, Section};
use switchboard_shared::normalize::normalize;

/// Why a flow cannot be saved, with the field to fix (`nodes.ask_city.options[1].title`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowError {
    pub field: String,
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> FlowError {
    FlowError {
        field: field.into(),
        message: message.into(),
    }
}

/// The longest text a step sends.
const MAX_TEXT: usize = 4096;
/// The most steps one event walks through (a flow without input loops is refused when saved;
/// this bounds a stored one all the same).
const MAX_TRANSITIONS: usize = 100;

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn text(field: &str, value: &str) -> Result<(), FlowError> {
    if switchboard_shared::text::is_blank(value) {
        return Err(error(field, "needs visible text"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(error(field, format!("at most {MAX_TEXT} characters")));
    }
    Ok(())
}

/// The menu a step sends, as WhatsApp's interactive message.
pub fn menu_message(body: &str, options: &[MenuOption], button: Option<&str>) -> InteractiveInput {
    match button {
        None => InteractiveInput {
            body: body.to_owned(),
            buttons: options
                .iter()
                .map(|o| Button {
                    id: o.id.clone(),
                    title: o.title.clone(),
                })
                .collect(),
            ..Default::default()
        },
        Some(button) => {
            let mut sections: Vec<Section> = Vec::new();
            for o in options {
                let row = Row {
                    id: o.id.clone(),
                    title: o.title.clone(),
                    description: o.description.clone(),
                };
                match sections.last_mut() {
                    Some(s) if s.title == o.section => s.rows.push(row),
                    _ => sections.push(Section {
                        title: o.section.clone(),
                        rows: vec![row],
                    }),
                }
            }
            InteractiveInput {
                body: body.to_owned(),
                list: Some(List {
                    button: button.to_owned(),
                    sections,
                }),
                ..Default::default()
            }
        }
    }
}

/// The steps a step leads to, with the field naming each link.
fn links(node: &Node) -> Vec<(String, &str)> {
    let mut out: Vec<(String, Option<&String>)> = Vec::new();
    match node {
        Node::Message { next, .. } => out.push(("next".into(), next.as_ref())),
        Node::Menu {
            options, fallback, ..
        } => {
            for (i, o) in options.iter().enumerate() {
                out.push((format!("options[{i}].next"), Some(&o.next)));
            }
            out.push(("fallback".into(), fallback.as_ref()));
        }
        Node::Question { next, fallback, .. } => {
            out.push(("next".into(), Some(next)));
            out.push(("fallback".into(), fallback.as_ref()));
        }
        Node::Condition {
            then, otherwise, ..
        } => {
            out.push(("then".into(), Some(then)));
            out.push(("otherwise".into(), Some(otherwise)));
        }
        Node::Http { next, fallback, .. } => {
            out.push(("next".into(), Some(next)));
            out.push(("fallback".into(), Some(fallback)));
        }
        Node::Handoff { .. } | Node::End { .. } => {}
    }
    out.into_iter()
        .filter_map(|(f, to)| Some((f, to?.as_str())))
        .collect()
}

/// Whether a step waits for the customer.
fn waits(node: &Node) -> bool {
    matches!(node, Node::Menu { .. } | Node::Question { .. })
}

/// Whether an address is one an HTTP step must not reach unless its host is allowed: loopback,
/// private, link-local (cloud metadata), carrier-grade NAT, unique-local, unspecified,
/// broadcast or multicast.
pub fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Whether `host` (and port) is among the flow's allowed hosts.
pub fn allowed(allow: &[String], host: &str, port: Option<u16>) -> bool {
    allow.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == host.to_ascii_lowercase()
            || port.is_some_and(|p| a == format!("{}:{p}", host.to_ascii_lowercase()))
    })
}

/// A URL template made concrete enough to check: placeholders become `x`.
fn url_shape(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        match rest[at..].find("}}") {
            Some(end) => {
                out.push('x');
                rest = &rest[at + end + 2..];
            }
            None => {
                rest = &rest[at..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a flow as given; each error names the field.
pub fn check(input: &FlowInput) -> Result<(), FlowError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(error("name", "a name of 1 to 100 characters"));
    }
    if input.nodes.is_empty() || input.nodes.len() > MAX_NODES {
        return Err(error("nodes", format!("1 to {MAX_NODES} steps")));
    }
    if !input.nodes.contains_key(&input.start) {
        return Err(error(
            "start",
            format!("no step `{}` in `nodes`", input.start),
        ));
    }
    if let Some(s) = &input.secret {
        if s.len() < 16 || s.len() > 200 {
            return Err(error("secret", "16 to 200 characters"));
        }
    }
    for (i, h) in input.allow_hosts.iter().enumerate() {
        if h.trim().is_empty() || h.len() > 253 || h.contains(['/', ' ', '@']) {
            return Err(error(
                format!("allow_hosts[{i}]"),
                "a host name or address, optionally with `:port`",
            ));
        }
    }
    for (id, node) in &input.nodes {
        let field = format!("nodes.{id}");
        if !valid_name(id, 40) {
            return Err(error(
                field,
                "a step id is 1 to 40 lowercase letters, digits, `_` or `-`",
            ));
        }
        for (link, to) in links(node) {
            if !input.nodes.contains_key(to) {
                return Err(error(
                    format!("{field}.{link}"),
                    format!("no step `{to}` in `nodes`"),
                ));
            }
        }
        check_node(&field, node, input)?;
    }
    // Every step reachable from the start.
    let mut seen = BTreeSet::new();
    let mut todo = vec![input.start.as_str()];
    while let Some(id) = todo.pop() {
        if seen.insert(id) {
            todo.extend(links(&input.nodes[id]).into_iter().map(|(_, to)| to));
        }
    }
    if let Some(id) = input.nodes.keys().find(|id| !seen.contains(id.as_str())) {
        return Err(error(
            format!("nodes.{id}"),
            "no step leads here from `start`",
        ));
    }
    // No loop made only of steps that do not wait: a customer could never leave it.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        id: &'a str,
        nodes: &'a BTreeMap<String, Node>,
        marks: &mut BTreeMap<&'a str, Mark>,
    ) -> Option<&'a str> {
        match marks.get(id) {
            Some(Mark::Open) => return Some(id),
            Some(Mark::Done) => return None,
            None => {}
        }
        let node = &nodes[id];
        if waits(node) {
            marks.insert(id, Mark::Done);
            return None;
        }
        marks.insert(id, Mark::Open);
        for (_, to) in links(node) {
            if let Some(cycle) = visit(to, nodes, marks) {
                return Some(cycle);
            }
        }
        marks.insert(id, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for id in input.nodes.keys() {
        if let Some(at) = visit(id, &input.nodes, &mut marks) {
            return Err(error(
                format!("nodes.{at}"),
                "starts a loop in which no step waits for the customer (add a question or a menu)",
            ));
        }
    }
    Ok(())
}

fn check_node(field: &str, node: &Node, input: &FlowInput) -> Result<(), FlowError> {
    match node {
        Node::Message { text: t, .. } => text(&format!("{field}.text"), t),
        Node::Menu {
            text: t,
            options,
            button,
            retry_text,
            retries,
            ..
        } => {
            if options.is_empty() {
                return Err(error(format!("{field}.options"), "at least one option"));
            }
            let message = menu_message(t, options, button.as_deref());
            message.check().map_err(|e| {
                // Name the option, not WhatsApp's structure.
                let f = match e.field.as_str() {
                    "body" => "text".to_owned(),
                    "list.button" => "button".to_owned(),
                    "buttons" | "list.sections" => "options".to_owned(),
                    other => {
                        let index = other
                            .split(['[', ']'])
                            .filter_map(|p| p.parse::<usize>().ok())
                            .next_back();
                        let part = other.rsplit('.').next().unwrap_or("");
                        match index {
                            Some(i) if other.starts_with("buttons") => {
                                format!("options[{i}].{part}")
                            }
                            _ => {
                                // A row: its place among all options.
                                let mut n = 0;
                                let mut at = None;
                                if let Some(list) = &message.list {
                                    for (s, section) in list.sections.iter().enumerate() {
                                        for r in 0..section.rows.len() {
                                            if other.starts_with(&format!(
                                                "list.sections[{s}].rows[{r}]"
                                            )) {
                                                at = Some(n);
                                            }
                                            n += 1;
                                        }
                                    }
                                }
                                match at {
                                    Some(i) => format!("options[{i}].{part}"),
                                    None => "options".to_owned(),
                                }
                            }
                        }
                    }
                };
                error(format!("{field}.{f}"), e.message)
            })?;
            if let Some(r) = retry_text {
                text(&format!("{field}.retry_text"), r)?;
            }
            if *retries > 5 {
                return Err(error(format!("{field}.retries"), "0 to 5"));
            }
            Ok(())
        }
        Node::Question {
            text: t,
            variable,
            attribute,
            expect,
            choices,
            pattern,
            retry_text,
            retries,
            ..
        } => {
            text(&format!("{field}.text"), t)?;
            if !valid_name(variable, 40) || variable.contains('-') {
                return Err(error(
                    format!("{field}.variable"),
                    "1 to 40 lowercase letters, digits or `_`",
                ));
            }
            if attribute.as_deref().is_some_and(|a| !valid_name(a, 40)) {
                return Err(error(
                    format!("{field}.attribute"),
                    "an attribute key: lowercase letters, digits or `_`",
                ));
            }
            match expect {
                Expect::Choice if choices.is_empty() || choices.len() > 50 => {
                    return Err(error(format!("{field}.choices"), "1 to 50 choices"));
                }
                Expect::Pattern => {
                    let p = pattern
                        .as_deref()
                        .ok_or_else(|| error(format!("{field}.pattern"), "give a pattern"))?;
                    regex::RegexBuilder::new(&format!("^(?:{p})$"))
                        .size_limit(256 * 1024)
                        .build()
                        .map_err(|e| {
                            error(
                                format!("{field}.pattern"),
                                format!("not a valid pattern: {e}"),
                            )
                        })?;
                }
                _ => {}
            }
            if let Some(r) = retry_text {
                text(&format!("{field}.retry_text"), r)?;
            }
            if *retries > 5 {
                return Err(error(format!("{field}.retries"), "0 to 5"));
            }
            Ok(())
        }
        Node::Condition {
            variable, compare, ..
        } => {
            if variable.trim().is_empty() {
                return Err(error(format!("{field}.variable"), "name a variable"));
            }
            let _ = compare;
            Ok(())
        }
        Node::Http {
            url,
            headers,
            body,
            timeout_ms,
            map,
            ..
        } => {
            let shape = url_shape(url);
            let parsed = url::Url::parse(&shape)
                .map_err(|e| error(format!("{field}.url"), format!("not a URL ({e}): `{url}`")))?;
            if parsed.scheme() != "https" && parsed.scheme() != "http" {
                return Err(error(format!("{field}.url"), "an `http` or `https` URL"));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(error(
                    format!("{field}.url"),
                    "no credentials in the URL; put them in `headers` with `{{secret}}`",
                ));
            }
            let host = parsed.host_str().unwrap_or("");
            if !url_host_fixed(url) {
                return Err(error(
                    format!("{field}.url"),
                    "the host is fixed; placeholders go in the path or the query",
                ));
            }
            let literal: Option<IpAddr> = match parsed.host() {
                Some(url::Host::Ipv4(a)) => Some(a.into()),
                Some(url::Host::Ipv6(a)) => Some(a.into()),
                _ => None,
            };
            let local = host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost");
            if (local || literal.is_some_and(private))
                && !allowed(&input.allow_hosts, host, parsed.port_or_known_default())
            {
                return Err(error(
                    format!("{field}.url"),
                    format!(
                        "`{host}` is a private or loopback address; an admin may allow it in \
                         `allow_hosts`"
                    ),
                ));
            }
            for name in headers.keys() {
                let ok = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                let reserved = ["host", "content-length", "x-switchboard-signature"]
                    .contains(&name.to_ascii_lowercase().as_str());
                if !ok || reserved {
                    return Err(error(
                        format!("{field}.headers.{name}"),
                        "a header name of letters, digits and `-`, not one Switchboard sets",
                    ));
                }
            }
            if body.as_ref().is_some_and(|b| b.len() > 16 * 1024) {
                return Err(error(format!("{field}.body"), "at most 16 KiB"));
            }
            if timeout_ms.is_some_and(|t| !(100..=MAX_HTTP_MS).contains(&t)) {
                return Err(error(
                    format!("{field}.timeout_ms"),
                    format!("100 to {MAX_HTTP_MS} ms"),
                ));
            }
            for (var, path) in map {
                if !valid_name(var, 40) || var.contains('-') {
                    return Err(error(
                        format!("{field}.map.{var}"),
                        "a variable: lowercase letters, digits or `_`",
                    ));
                }
                serde_json_path::JsonPath::parse(path).map_err(|e| {
                    error(format!("{field}.map.{var}"), format!("not a JSONPath: {e}"))
                })?;
            }
            Ok(())
        }
        Node::Handoff { skill, text: t } => {
            if let Some(t) = t {
                text(&format!("{field}.text"), t)?;
            }
            if skill.as_deref().is_some_and(|s| !valid_name(s, 40)) {
                return Err(error(
                    format!("{field}.skill"),
                    "a skill: lowercase letters, digits, `-` or `_`",
                ));
            }
            Ok(())
        }
        Node::End { text: t } => match t {
            Some(t) => text(&format!("{field}.text"), t),
            None => Ok(()),
        },
    }
}

/// Whether the URL template's scheme and host are written out (no placeholder before the path).
fn url_host_fixed(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(after_scheme);
    !authority.contains("{{")
}

/// What a template may name: the run's variables and the contact's fields.
pub struct Scope<'a> {
    pub vars: &'a BTreeMap<String, Value>,
    /// `name`, `phone` and the contact's attributes.
    pub contact: &'a BTreeMap<String, Value>,
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills `{{name}}`, `{{contact.field}}` (unknown: empty); `escape` is applied to each value
/// (URL-encoding for URLs, JSON for bodies).
pub fn render(template: &str, scope: &Scope<'_>, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[at..]);
            return out;
        };
        let name = after[..end].trim();
        let value = match name.strip_prefix("contact.") {
            Some(field) => scope.contact.get(field),
            None => scope.vars.get(name),
        };
        out.push_str(&escape(&value.map(show).unwrap_or_default()));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Checks an answer against what a question expects; the value kept, or `None`.
pub fn accept(
    expect: Expect,
    answer: &str,
    choices: &[String],
    pattern: Option<&str>,
    region: Option<&str>,
) -> Option<Value> {
    let a = answer.trim();
    if a.is_empty() {
        return None;
    }
    match expect {
        Expect::Text => Some(Value::String(a.chars().take(1000).collect())),
        Expect::Number => {
            let cleaned: String = a.chars().filter(|c| !c.is_whitespace()).collect();
            let n: f64 = cleaned.replace(',', ".").parse().ok()?;
            n.is_finite().then(|| serde_json::json!(n))
        }
        Expect::Email => a
            .parse::<email_address::EmailAddress>()
            .ok()
            .map(|e| Value::String(e.to_string())),
        Expect::Phone => {
            let region = region.and_then(|r| r.parse().ok());
            crate::domain::parse_phone(a, region)
                .ok()
                .map(|p| Value::String(format!("+{}", p.digits)))
        }
        Expect::Date => {
            let d = a.parse::<jiff::civil::Date>().ok().or_else(|| {
                let parts: Vec<&str> = a.split(['.', '/']).collect();
                match parts[..] {
                    [d, m, y] if y.len() == 4 => {
                        jiff::civil::Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
                            .ok()
                    }
                    _ => None,
                }
            })?;
            Some(Value::String(d.to_string()))
        }
        Expect::Choice => {
            let folded = normalize(a).text().to_owned();
            choices
                .iter()
                .find(|c| normalize(c).text() == folded)
                .map(|c| Value::String(c.clone()))
        }
        Expect::Pattern => {
            let re = regex::RegexBuilder::new(&format!("^(?:{})$", pattern?))
                .size_limit(256 * 1024)
                .build()
                .ok()?;
            re.is_match(a).then(|| Value::String(a.to_owned()))
        }
    }
}

/// Which option a reply chooses: by the id WhatsApp sends back for a tap, else the title typed
/// (case and look-alikes aside), else its number (`2`).
pub fn choose(options: &[MenuOption], reply_id: Option<&str>, text: &str) -> Option<usize> {
    if let Some(id) = reply_id {
        if let Some(i) = options.iter().position(|o| o.id == id) {
            return Some(i);
        }
    }
    let folded = normalize(text.trim()).text().to_owned();
    if folded.is_empty() {
        return None;
    }
    options
        .iter()
        .position(|o| normalize(&o.title).text() == folded)
        .or_else(|| {
            let n: usize = text.trim().trim_end_matches(['.', ')']).parse().ok()?;
            (1..=options.len()).contains(&n).then(|| n - 1)
        })
}

/// Where a run stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The step it is at.
    pub node: String,
    pub vars: BTreeMap<String, Value>,
    /// Bad answers to the current step so far.
    pub tries: u8,
    /// Whether the current step's prompt went and the run waits for the customer.
    pub waiting: bool,
    /// Counts every effect made: the outbox key of a message is the run and this number.
    pub seq: u64,
}

/// What happened to a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The run starts, or resumes after a restart at a step that does not wait.
    Go,
    /// The customer wrote (`id`: the button or row tapped, when they tapped one).
    Reply { text: String, id: Option<String> },
    /// The HTTP step's answer (JSON), or why there is none.
    Fetched(Result<Value, String>),
}

/// What the service must do, in order. Each carries its sequence number.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Say {
        seq: u64,
        text: String,
    },
    Menu {
        seq: u64,
        message: InteractiveInput,
    },
    SetAttribute {
        key: String,
        value: Value,
    },
    /// Call this endpoint and come back with [`Event::Fetched`].
    Fetch(Fetch),
    /// Give the conversation to people (tagged with the skill), with this note.
    Handoff {
        skill: Option<String>,
        note: String,
    },
}

/// An HTTP request, rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetch {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u32,
}

/// How a run ends, when it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// It reached an end without a person.
    Completed,
    HandedOff,
}

/// The outcome of one event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    pub effects: Vec<Effect>,
    /// Set when the run is over.
    pub finish: Option<Finish>,
}

fn note(vars: &BTreeMap<String, Value>, flow: &FlowInput) -> String {
    let mut note = format!("Bot flow “{}” handed over.", flow.name.trim());
    if !vars.is_empty() {
        note.push_str(" Answers:");
        for (k, v) in vars {
            note.push_str(&format!("\n• {k}: {}", show(v)));
        }
    }
    note
}

/// Walks a run through `flow` for one event, until it waits for the customer, waits for an HTTP
/// answer (the last effect is then a [`Effect::Fetch`]), or ends.
pub fn advance(
    flow: &FlowInput,
    state: &mut RunState,
    event: Event,
    contact: &BTreeMap<String, Value>,
    secret: Option<&str>,
    region: Option<&str>,
) -> Step {
    let mut step = Step::default();
    let mut event = Some(event);
    for _ in 0..MAX_TRANSITIONS {
        let Some(node) = flow.nodes.get(&state.node) else {
            return hand_over(
                step,
                format!("Bot flow “{}” lost its step; handed over.", flow.name),
            );
        };
        let scope_vars = state.vars.clone();
        let scope = Scope {
            vars: &scope_vars,
            contact,
        };
        let say = |t: &str| render(t, &scope, str::to_owned);
        let goto = |state: &mut RunState, to: &str| {
            state.node = to.to_owned();
            state.tries = 0;
            state.waiting = false;
        };
        // A step that waits, reached without the customer's reply: send its prompt and wait.
        let input = event.take();
        match node {
            Node::Message { text, next } => {
                state.seq += 1;
                step.effects.push(Effect::Say {
                    seq: state.seq,
                    text: say(text),
                });
                match next {
                    Some(n) => goto(state, n),
                    None => {
                        step.finish = Some(Finish::Completed);
                        return step;
                    }
                }
            }
            Node::End { text } => {
                if let Some(t) = text {
                    state.seq += 1;
                    step.effects.push(Effect::Say {
                        seq: state.seq,
                        text: say(t),
                    });
                }
                step.finish = Some(Finish::Completed);
                return step;
            }
            Node::Handoff { skill, text } => {
                if let Some(t) = text {
                    state.seq += 1;
                    step.effects.push(Effect::Say {
                        seq: state.seq,
                        text: say(t),
                    });
                }
                step.effects.push(Effect::Handoff {
                    skill: skill.clone(),
                    note: note(&state.vars, flow),
                });
                step.finish = Some(Finish::HandedOff);
                return step;
            }
            Node::Condition {
                variable,
                compare,
                value,
                then,
                otherwise,
            } => {
                let have = state.vars.get(variable).or_else(|| {
                    variable
                        .strip_prefix("contact.")
                        .and_then(|f| contact.get(f))
                });
                let holds = match (compare, have) {
                    (Compare::Exists, h) => h.is_some_and(|v| !v.is_null() && !show(v).is_empty()),
                    (_, None) => false,
                    (Compare::Equals, Some(h)) => {
                        h == value || show(h).trim().eq_ignore_ascii_case(show(value).trim())
                    }
                    (Compare::Contains, Some(h)) => {
                        show(h).to_lowercase().contains(&show(value).to_lowercase())
                    }
                    (Compare::GreaterThan | Compare::LessThan, Some(h)) => {
                        let n = |v: &Value| v.as_f64().or_else(|| show(v).trim().parse().ok());
                        match (n(h), n(value)) {
                            (Some(a), Some(b)) if *compare == Compare::GreaterThan => a > b,
                            (Some(a), Some(b)) => a < b,
                            _ => false,
                        }
                    }
                };
                goto(state, if holds { then } else { otherwise });
            }
            Node::Http {
                method,
                url,
                headers,
                body,
                timeout_ms,
                map,
                next,
                fallback,
            } => match input {
                Some(Event::Fetched(answer)) => {
                    let mut ok = answer.is_ok();
                    if let Ok(json) = &answer {
                        for (var, path) in map {
                            let found = serde_json_path::JsonPath::parse(path)
                                .ok()
                                .and_then(|p| p.query(json).first().cloned());
                            match found {
                                Some(v) => {
                                    state.vars.insert(var.clone(), v);
                                }
                                None => ok = false,
                            }
                        }
                    }
                    if let Err(why) = &answer {
                        state
                            .vars
                            .insert("http_error".into(), Value::String(why.clone()));
                    }
                    goto(state, if ok { next } else { fallback });
                }
                _ => {
                    let secret_value = secret.unwrap_or("");
                    let headers = headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                render(&v.replace("{{secret}}", secret_value), &scope, |s| {
                                    s.replace(['\r', '\n'], " ")
                                }),
                            )
                        })
                        .collect();
                    step.effects.push(Effect::Fetch(Fetch {
                        method: *method,
                        url: render(url, &scope, |s| {
                            url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
                        }),
                        headers,
                        body: body.as_ref().map(|b| {
                            render(b, &scope, |s| {
                                let quoted = Value::String(s.to_owned()).to_string();
                                quoted[1..quoted.len() - 1].to_owned()
                            })
                        }),
                        timeout_ms: timeout_ms.unwrap_or(DEFAULT_HTTP_MS).min(MAX_HTTP_MS),
                    }));
                    state.waiting = false;
                    return step;
                }
            },
            Node::Menu {
                text,
                options,
                button,
                retry_text,
                retries,
                fallback,
            } => match input {
                Some(Event::Reply { text: reply, id }) if state.waiting => {
                    match choose(options, id.as_deref(), &reply) {
                        Some(i) => {
                            state
                                .vars
                                .insert(state.node.clone(), Value::String(options[i].id.clone()));
                            goto(state, &options[i].next);
                        }
                        None if state.tries < *retries => {
                            state.tries += 1;
                            if let Some(r) = retry_text {
                                state.seq += 1;
                                step.effects.push(Effect::Say {
                                    seq: state.seq,
                                    text: say(r),
                                });
                            }
                            state.seq += 1;
                            step.effects.push(Effect::Menu {
                                seq: state.seq,
                                message: menu_message(&say(text), options, button.as_deref()),
                            });
                            return step;
                        }
                        None => match fallback {
                            Some(f) => goto(state, f),
                            None => return hand_over(step, note(&state.vars, flow)),
                        },
                    }
                }
                _ => {
                    state.seq += 1;
                    step.effects.push(Effect::Menu {
                        seq: state.seq,
                        message: menu_message(&say(text), options, button.as_deref()),
                    });
                    state.waiting = true;
                    return step;
                }
            },
            Node::Question {
                text,
                variable,
                attribute,
                expect,
                choices,
                pattern,
                retry_text,
                retries,
                next,
                fallback,
            } => match input {
                Some(Event::Reply { text: reply, .. }) if state.waiting => {
                    match accept(*expect, &reply, choices, pattern.as_deref(), region) {
                        Some(value) => {
                            state.vars.insert(variable.clone(), value.clone());
                            if let Some(key) = attribute {
                                step.effects.push(Effect::SetAttribute {
                                    key: key.clone(),
                                    value,
                                });
                            }
                            goto(state, next);
                        }
                        None if state.tries < *retries => {
                            state.tries += 1;
                            state.seq += 1;
                            step.effects.push(Effect::Say {
                                seq: state.seq,
                                text: say(retry_text.as_deref().unwrap_or(text)),
                            });
                            return step;
                        }
                        None => match fallback {
                            Some(f) => goto(state, f),
                            None => return hand_over(step, note(&state.vars, flow)),
                        },
                    }
                }
                _ => {
                    state.seq += 1;
                    step.effects.push(Effect::Say {
                        seq: state.seq,
                        text: say(text),
                    });
                    state.waiting = true;
                    return step;
                }
            },
        }
    }
    hand_over(
        step,
        format!(
            "Bot flow “{}” went round without waiting; handed over.",
            flow.name
        ),
    )
}

/// Ends a run by handing it to people, with `note` for them.
fn hand_over(mut step: Step, note: String) -> Step {
    step.effects.push(Effect::Handoff { skill: None, note });
    step.finish = Some(Finish::HandedOff);
    step
}

#[cfg(test)]
mod tests;
