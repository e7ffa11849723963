//! `cargo xtask layers`: the module graph of `server` and `shared`, checked.
//!
//! Reads every source file with `syn` (so comments, strings and doc links never count), records
//! which module each `crate::…`, `super::…` and `self::…` path of non-test code names, and fails
//! when:
//! - two or more modules import each other, directly or round a loop (each module's imports must
//!   point one way: api/hub → service → store/routing/governor/automation/connector → domain);
//! - a module imports one its layer must not know (the table [`FORBIDDEN`]);
//! - a module names an outside crate kept to other layers ([`CRATE_HOMES`]: SQL and CQL drivers
//!   only in `store`, the HTTP stack only in the HTTP-facing modules).
//!
//! It prints the graph it checked, one module and its imports a line, so the map in
//! docs/architecture.md can be compared with what the code does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use syn::visit::Visit;

/// Module (a prefix: the module and everything inside it) → modules it must not import.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "admin",
            "api",
            "app",
            "auth",
            "automation",
            "backup",
            "config",
            "connector",
            "export",
            "flow",
            "governor",
            "http",
            "hub",
            "limits",
            "routing",
            "schedule",
            "service",
            "simulator",
            "store",
            "web",
        ],
    ),
    (
        "store",
        &[
            "admin", "api", "app", "auth", "http", "hub", "service", "web",
        ],
    ),
    (
        "connector",
        &["api", "app", "http", "hub", "service", "store", "web"],
    ),
    (
        "routing",
        &["api", "app", "http", "hub", "service", "store", "web"],
    ),
    (
        "governor",
        &["api", "app", "http", "hub", "service", "store", "web"],
    ),
    (
        "automation",
        &[
            "api", "app", "auth", "http", "hub", "service", "store", "web",
        ],
    ),
    (
        "limits",
        &[
            "api", "app", "auth", "http", "hub", "service", "store", "web",
        ],
    ),
    (
        "flow",
        &[
            "api", "app", "auth", "http", "hub", "service", "store", "web",
        ],
    ),
    (
        "schedule",
        &[
            "api", "app", "auth", "http", "hub", "service", "store", "web",
        ],
    ),
    (
        "staging",
        &[
            "api", "app", "auth", "http", "hub", "service", "store", "web",
        ],
    ),
    ("auth", &["api", "app", "http", "hub", "service", "web"]),
    ("service", &["admin", "api", "app", "http", "hub", "web"]),
    ("hub", &["api", "app", "http"]),
    ("api", &["app", "http"]),
    ("web", &["api", "app", "http", "hub", "service", "store"]),
];

/// An outside crate → the modules (prefixes) that may name it.
const CRATE_HOMES: &[(&str, &[&str])] = &[
    ("rusqlite", &["store"]),
    ("scylla", &["store"]),
    // The HTTP framework stays at the edge: `web` re-exports the plain HTTP types the API uses;
    // the simulator is Meta's stand-in, an HTTP server of its own.
    ("warp", &["http", "hub", "web", "simulator"]),
    ("hyper", &["http", "hub", "simulator", "connector"]),
    ("hyper_util", &["http", "hub", "simulator", "connector"]),
    ("tokio_tungstenite", &["hub", "http"]),
];

struct Crate {
    name: &'static str,
    src: PathBuf,
}

/// Runs the check; prints the graph; fails on the first kind of violation found (all listed).
pub fn check(root: &Path) -> Result<()> {
    let crates = [
        Crate {
            name: "switchboard-server",
            src: root.join("server/src"),
        },
        Crate {
            name: "switchboard-shared",
            src: root.join("shared/src"),
        },
    ];
    let mut problems = Vec::new();
    for krate in &crates {
        let graph =
            graph_of(&krate.src).with_context(|| format!("reading {}", krate.src.display()))?;
        println!("{} modules and what they import:", krate.name);
        for (module, uses) in &graph.edges {
            let listed: Vec<&str> = uses.iter().map(String::as_str).collect();
            println!("  {module} -> {}", listed.join(", "));
        }
        // Between modules at every depth, and between the top-level modules they belong to
        // (`service::inbox` → `hub` and `hub` → `service::broker` is a loop of layers).
        let top = top_level(&graph.edges);
        for cycle in cycles(&graph.edges).into_iter().chain(cycles(&top)) {
            problems.push(format!(
                "{}: import cycle between {}",
                krate.name,
                cycle.join(", ")
            ));
        }
        for (module, uses) in &graph.edges {
            for (layer, banned) in FORBIDDEN {
                if !within(module, layer) {
                    continue;
                }
                for used in uses {
                    if banned.iter().any(|b| within(used, b)) {
                        problems.push(format!(
                            "{}: `{module}` imports `{used}`, which `{layer}` must not know",
                            krate.name
                        ));
                    }
                }
            }
        }
        for (module, outside) in &graph.crates {
            for name in outside {
                if let Some((_, homes)) = CRATE_HOMES.iter().find(|(c, _)| c == name) {
                    if !homes.iter().any(|h| within(module, h)) {
                        problems.push(format!(
                            "{}: `{module}` names the `{name}` crate, kept to {}",
                            krate.name,
                            homes.join(", ")
                        ));
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        println!("layers: no import cycles; every module imports only what its layer may");
        Ok(())
    } else {
        for p in &problems {
            eprintln!("layers: {p}");
        }
        bail!("{} layering problem(s)", problems.len())
    }
}

/// The graph between top-level modules (`hub::socket` counts as `hub`).
fn top_level(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let head = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, uses) in edges {
        let from = head(module);
        let targets = top.entry(from.clone()).or_default();
        targets.extend(uses.iter().map(|u| head(u)).filter(|u| *u != from));
    }
    top
}

/// `module` is `prefix` or inside it.
fn within(module: &str, prefix: &str) -> bool {
    module == prefix
        || module
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}

#[derive(Default)]
struct Graph {
    /// Module → the modules of the same crate it imports (never itself or its ancestors).
    edges: BTreeMap<String, BTreeSet<String>>,
    /// Module → outside crates it names.
    crates: BTreeMap<String, BTreeSet<String>>,
}

fn graph_of(src: &Path) -> Result<Graph> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    let modules: BTreeMap<String, PathBuf> = files
        .into_iter()
        .filter_map(|f| Some((module_of(src, &f)?, f)))
        .collect();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph = Graph::default();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file)?;
        let ast = syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        let mut paths = Paths::default();
        for item in &ast.items {
            if !is_test_only(item) {
                paths.visit_item(item);
            }
        }
        let uses = graph.edges.entry(module.clone()).or_default();
        for path in &paths.found {
            if let Some(target) = resolve(module, path, &known) {
                if target != *module && !within(module, &target) {
                    uses.insert(target);
                }
            }
        }
        graph
            .crates
            .entry(module.clone())
            .or_default()
            .extend(paths.found.iter().filter_map(|p| p.first().cloned()));
    }
    Ok(graph)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `api/mod.rs` → `api`, `hub/socket.rs` → `hub::socket`; the crate roots and binaries are not
/// modules of the library's graph.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") || parts == ["lib"] || parts == ["main"] {
        return None;
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts.join("::"))
}

/// `#[cfg(test)]` items: tests may reach anywhere.
fn is_test_only(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(m) => &m.attrs,
        syn::Item::Fn(f) => &f.attrs,
        syn::Item::Use(u) => &u.attrs,
        syn::Item::Impl(i) => &i.attrs,
        _ => return false,
    };
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The module a path names: `crate::a::b::C` → the longest known module prefix of `a::b`;
/// `super::` and `self::` relative to `module`. Outside crates resolve to nothing here.
fn resolve(module: &str, path: &[String], known: &BTreeSet<String>) -> Option<String> {
    let here: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut segments: Vec<&str> = Vec::new();
    let mut rest = path.iter().map(String::as_str).peekable();
    match rest.peek().copied() {
        Some("crate") => {
            rest.next();
        }
        Some("super") => {
            segments.extend(&here);
            while rest.peek() == Some(&"super") {
                rest.next();
                segments.pop();
            }
        }
        Some("self") => {
            rest.next();
            segments.extend(&here);
        }
        _ => return None,
    }
    segments.extend(rest);
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| known.contains(candidate))
}

/// Every path a file's items name, as segments (use trees expanded).
#[derive(Default)]
struct Paths {
    found: Vec<Vec<String>>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.found.push(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.found.push(full);
            }
            syn::UseTree::Glob(_) => self.found.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.found
            .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let test_only = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg")
                && a.parse_args::<syn::Meta>()
                    .is_ok_and(|meta| meta.path().is_ident("test"))
        });
        if !test_only {
            syn::visit::visit_item_mod(self, m);
        }
    }
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            let edges = self.edges;
            for w in edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(pairs: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut e: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            e.entry((*a).into()).or_default().insert((*b).into());
            e.entry((*b).into()).or_default();
        }
        e
    }

    #[test]
    fn finds_loops_and_only_loops() {
        assert!(cycles(&edges(&[("api", "service"), ("service", "store")])).is_empty());
        assert_eq!(
            cycles(&edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
            vec![vec!["a".to_owned(), "b".into(), "c".into()]]
        );
    }

    #[test]
    fn paths_resolve_to_the_longest_known_module() {
        let known: BTreeSet<String> = ["hub", "hub::socket", "service", "service::inbox"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let p = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            resolve("hub::socket", &p("crate::service::inbox::Inbox"), &known),
            Some("service::inbox".into())
        );
        assert_eq!(
            resolve("hub::socket", &p("super::Hub"), &known),
            Some("hub".into())
        );
        assert_eq!(resolve("hub", &p("tokio::spawn"), &known), None);
        assert!(within("store::sqlite", "store") && !within("storefront", "store"));
    }
}
