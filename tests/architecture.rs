//! The module structure of docs/ARCHITECTURE.md as rules over the source text: who owns
//! which table, who may write an event, which way the domains depend on each other, and
//! how long a function may grow. Reads `src/` only; no database, no network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The domain folders.
const DOMAINS: &[&str] = &[
    "allocation",
    "applications",
    "auth",
    "batches",
    "calendar",
    "eligibility",
    "health",
    "lifecycle",
    "notifications",
    "places",
    "reports",
    "review",
];

/// Which domain owns each entity module (`entity::<module>`).
const OWNERS: &[(&str, &str)] = &[
    ("application", "applications"),
    ("member_key", "applications"),
    ("duplicate_flag", "applications"),
    ("idempotency_record", "applications"),
    ("case_access", "applications"),
    ("user_account", "auth"),
    ("staff_scope", "auth"),
    ("session_token", "auth"),
    ("password_reset", "auth"),
    ("login_throttle", "auth"),
    ("batch", "batches"),
    ("batch_item", "batches"),
    ("export_log", "batches"),
    ("calendar_day", "calendar"),
    ("policy", "eligibility"),
    ("eligibility_decision", "eligibility"),
    ("application_event", "lifecycle"),
    ("batch_event", "lifecycle"),
    ("counter_delta", "lifecycle"),
    ("funnel_count", "lifecycle"),
    ("funnel_duration", "lifecycle"),
    ("status_count", "lifecycle"),
    ("outbox_message", "notifications"),
    ("place", "places"),
    ("objection", "review"),
    ("housing_unit", "allocation"),
    ("allocation_export", "allocation"),
    ("allocation_round", "allocation"),
    ("round_unit", "allocation"),
    ("round_entry", "allocation"),
    ("unit_offer", "allocation"),
    ("unit_event", "lifecycle"),
];

/// The writers change the rows of the cases and batches they move, which the
/// applications and batches domains own.
const WRITER_ALSO_WRITES: &[&str] = &[
    "application",
    "batch",
    "batch_item",
    "housing_unit",
    "unit_offer",
];

fn sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
}

fn src() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    assert!(out.len() > 50, "read the source tree");
    out
}

/// The domain folder a file is in, if any.
fn domain_of(path: &Path) -> Option<&'static str> {
    let rel = path
        .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    DOMAINS.iter().copied().find(|d| *d == first)
}

/// Code without `//` comments (doc comments included), so prose can name anything.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The entity modules a file names: `entity::x` and `entity::{x, y::Z}`.
fn entity_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("entity::") {
        rest = &rest[i + "entity::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

fn owner(module: &str) -> Option<&'static str> {
    OWNERS.iter().find(|(m, _)| *m == module).map(|(_, o)| *o)
}

#[test]
fn every_entity_module_has_an_owner() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("entity/src");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let module = name.trim_end_matches(".rs");
        let shared = ["lib", "enums", "number_sequence", "app_secret"];
        if !shared.contains(&module) {
            assert!(
                owner(module).is_some(),
                "entity::{module} has no owner here"
            );
        }
    }
}

#[test]
fn a_domain_reaches_another_domains_tables_only_through_that_domain() {
    let mut problems = Vec::new();
    for (path, text) in src() {
        let Some(domain) = domain_of(&path) else {
            continue;
        };
        let code = code(&text);
        for module in entity_modules(&code) {
            if module == "enums" {
                continue;
            }
            let allowed = owner(&module) == Some(domain)
                || (domain == "lifecycle" && WRITER_ALSO_WRITES.contains(&module.as_str()));
            if !allowed {
                problems.push(format!("{} uses entity::{module}", path.display()));
            }
        }
        for other in DOMAINS.iter().filter(|d| **d != domain) {
            if code.contains(&format!("crate::{other}::repository")) {
                problems.push(format!("{} uses {other}'s repository", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn only_the_two_writers_write_events() {
    let lifecycle =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lifecycle/mod.rs"))
            .unwrap();
    assert!(
        lifecycle.contains("\nmod repository;"),
        "the writers' repository stays private to them"
    );
    let writers: BTreeSet<String> = src()
        .into_iter()
        .filter(|(_, text)| {
            let code = code(text);
            code.contains("application_event::ActiveModel")
                || code.contains("batch_event::ActiveModel")
                || code.contains("application_event::Entity::insert")
                || code.contains("batch_event::Entity::insert")
        })
        .map(|(p, _)| {
            assert_eq!(
                domain_of(&p),
                Some("lifecycle"),
                "{} writes events",
                p.display()
            );
            p.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(
        writers,
        ["batch_writer.rs", "case_writer.rs", "repository.rs"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

/// Domain → the domains its code names (`crate::<domain>`).
fn domain_graph() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, text) in src() {
        let Some(domain) = domain_of(&path) else {
            continue;
        };
        let code = code(&text);
        let entry = graph.entry(domain).or_default();
        for other in DOMAINS.iter().filter(|d| **d != domain) {
            let named = format!("crate::{other}");
            let mut rest = code.as_str();
            while let Some(i) = rest.find(&named) {
                let next = rest[i + named.len()..].chars().next();
                if !next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    entry.insert(other);
                    break;
                }
                rest = &rest[i + named.len()..];
            }
        }
    }
    graph
}

#[test]
fn the_domains_depend_on_each_other_without_a_cycle() {
    let graph = domain_graph();
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            return Some(path[i..].to_vec());
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for m in graph.get(n).into_iter().flatten() {
            if let Some(cycle) = visit(m, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        let cycle = visit(n, &graph, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "domains in a circle: {cycle:?}");
    }
    // The writers and the outbox sit low: they name no domain above them.
    assert!(graph["notifications"].is_empty(), "{graph:?}");
    assert_eq!(
        graph["lifecycle"],
        ["notifications"].into_iter().collect(),
        "{graph:?}"
    );
    assert!(graph["places"].is_empty(), "{graph:?}");
}

#[test]
fn no_domain_reaches_up_to_the_start_up_or_the_command_line() {
    for (path, text) in src() {
        if domain_of(&path).is_some() {
            let code = code(&text);
            for top in ["crate::startup", "crate::cli", "crate::demo"] {
                assert!(!code.contains(top), "{} uses {top}", path.display());
            }
        }
    }
}

#[test]
fn handlers_run_no_sql_and_check_no_roles_of_their_own() {
    for (path, text) in src() {
        let name = path.file_name().unwrap().to_string_lossy();
        if domain_of(&path).is_none() || !(name == "api.rs" || name.ends_with("_api.rs")) {
            continue;
        }
        let code = code(&text);
        for sql in [
            "Entity::",
            "sea_orm::{",
            "QueryFilter",
            "Column::",
            ".exec(",
        ] {
            assert!(!code.contains(sql), "{} runs SQL ({sql})", path.display());
        }
        for check in [".is(&[", "role ==", "role !="] {
            assert!(
                !code.contains(check),
                "{} checks roles itself ({check})",
                path.display()
            );
        }
    }
}

/// Every function's name and length in lines, from `fn` to its closing brace.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) ",
            "pub(super) ",
        ]
        .iter()
        .any(|p| t.starts_with(p))
            && t.contains("fn ")
            && !t.ends_with(';');
        if !is_fn {
            continue;
        }
        let name = t
            .split("fn ")
            .nth(1)
            .unwrap_or("")
            .split(['(', '<'])
            .next()
            .unwrap_or("")
            .to_string();
        let mut depth = 0i32;
        let mut opened = false;
        for (j, l) in lines.iter().enumerate().skip(i) {
            for c in code(l).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth == 0 {
                out.push((name.clone(), j - i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_outside_the_demo_is_longer_than_a_hundred_lines() {
    let mut long = Vec::new();
    for (path, text) in src() {
        if path.ends_with("demo.rs") {
            continue;
        }
        for (name, len) in functions(&text) {
            if len > 100 {
                long.push(format!("{}: {name} ({len} lines)", path.display()));
            }
        }
    }
    assert!(long.is_empty(), "{long:#?}");
}

#[test]
fn the_rules_themselves_see_what_they_look_for() {
    assert_eq!(
        entity_modules("use entity::{application, batch_item::Column};\nentity::place::Model"),
        ["application", "batch_item", "place"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let f = functions("fn a() {\n    x;\n}\n\npub async fn b(\n    y: i32,\n) -> u8 {\n    1\n}\n");
    assert_eq!(f, vec![("a".to_string(), 3), ("b".to_string(), 5)]);
    assert!(domain_graph().contains_key("review"));
}

/// The web pages sit above every domain: they call the same service functions as the API
/// handlers, never a repository, an entity or the database; and no domain knows them.
#[test]
fn the_web_pages_use_services_only_and_no_domain_uses_them() {
    let mut problems = Vec::new();
    for (path, text) in src() {
        let code = code(&text);
        let rel = path
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
            .unwrap();
        let in_web = rel.starts_with("web");
        if in_web {
            for banned in ["entity::", "sea_orm", "repository", "crate::db::"] {
                if code.contains(banned) {
                    problems.push(format!("{}: names {banned}", rel.display()));
                }
            }
        } else if domain_of(&path).is_some() && code.contains("crate::web") {
            problems.push(format!("{}: a domain names the web pages", rel.display()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
