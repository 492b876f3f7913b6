//! The module graph of rp-server's source: layers point one way and nothing imports in a
//! circle. Read from the source (`crate::…` paths outside `#[cfg(test)]`), so a new
//! import that breaks a rule fails here, with the circle or the edge named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`flows::sign_in`) → the source before its tests.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let module = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}::{name}")
            };
            if path.is_dir() {
                walk(&path, &module, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !["main", "lib", "tests"].contains(&name.as_str())
            {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                out.insert(module, code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut out,
    );
    out
}

/// Module → the modules it names with `crate::` (the longest known prefix of each path),
/// leaving out a module's own ancestors and descendants.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, code) in modules {
        let mut targets = BTreeSet::new();
        for path in code.split("crate::").skip(1) {
            let segments: Vec<&str> = path
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .collect();
            let target = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|t| modules.contains_key(t));
            if let Some(t) = target {
                let related = t == *module
                    || module.starts_with(&format!("{t}::"))
                    || t.starts_with(&format!("{module}::"));
                if !related {
                    targets.insert(t);
                }
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

#[test]
fn no_module_imports_in_a_circle() {
    let graph = imports(&modules());
    // Depth-first search for a back edge; report the circle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!("import circle: {} → {node}", path[at..].join(" → "));
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn storage_and_configuration_import_no_flow_policy_or_http() {
    let graph = imports(&modules());
    let lower = |m: &str| {
        m == "store"
            || m.starts_with("store::")
            || m == "config"
            || m.starts_with("config::")
            || m == "model"
    };
    let upper = |m: &str| {
        ["flows", "passkeys", "http", "admin", "cli"]
            .iter()
            .any(|u| m == *u || m.starts_with(&format!("{u}::")))
    };
    let wrong: Vec<String> = graph
        .iter()
        .filter(|(m, _)| lower(m))
        .flat_map(|(m, ts)| {
            ts.iter()
                .filter(|t| upper(t))
                .map(move |t| format!("{m} → {t}"))
        })
        .collect();
    assert!(wrong.is_empty(), "imports against the layers: {wrong:?}");
}

#[test]
fn the_graph_is_read() {
    // The checks above would pass on an empty graph: make sure it is not.
    let graph = imports(&modules());
    assert!(
        graph["flows::sign_in"].contains("store"),
        "{:?}",
        graph["flows::sign_in"]
    );
    assert!(graph["http::admin"].contains("admin"));
}
