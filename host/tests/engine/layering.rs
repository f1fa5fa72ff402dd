//! The layering ARCHITECTURE.md draws, held against the code: the engine's modules import each
//! other only downward, and the engine crate brings no web server, database, command-line
//! parser or component tooling to a gateway that embeds it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// A file's code without its comments (and doc comments), for reading its imports.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The leading identifier of `text`.
fn identifier(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The paths `crate::` is followed by in `code`: `crate::a::B` gives `a`, `crate::{a, b::C}`
/// gives `a` and `b` (braces may span lines), `crate::Tenant` gives `Tenant`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (index, _) in code.match_indices("crate::") {
        let rest = &code[index + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(identifier(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            names.push(identifier(&item));
        } else {
            names.push(identifier(rest));
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

/// The names `lib.rs` re-exports at the root (`pub use tenant::{Tenant, ...}`), with the module
/// each comes from, so that `crate::Tenant` counts as an import of `tenant`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut reexports = BTreeMap::new();
    for statement in code_of(lib).split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = identifier(path);
        let rest = path[module.len()..].trim_start_matches("::");
        let names = rest.trim_start_matches('{').trim_end_matches('}');
        for name in names.split(',') {
            let name = identifier(name.trim().rsplit("::").next().unwrap_or(""));
            if !name.is_empty() {
                reexports.insert(name, module.clone());
            }
        }
    }
    reexports
}

/// The engine's modules (the files of `host/src`) and the modules each imports with
/// `crate::`, outside comments.
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reexports = root_reexports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module == "lib" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        let imports: BTreeSet<String> = crate_paths(&code)
            .into_iter()
            .filter_map(|name| {
                if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                    Some(name)
                } else {
                    reexports.get(&name).cloned()
                }
            })
            .filter(|name| *name != module)
            .collect();
        graph.insert(module, imports);
    }
    graph
}

/// A circle of imports, if there is one, as `a -> b -> ... -> a`.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_string());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_engines_modules_import_only_downward() {
    let graph = module_imports();
    // The reading sees the imports it should: a few that the layering rests on.
    assert!(graph["tenant"].contains("engine"), "{:?}", graph["tenant"]);
    assert!(graph["engine"].contains("bundle"), "{:?}", graph["engine"]);
    assert!(
        graph["component"].contains("contract"),
        "{:?}",
        graph["component"]
    );
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "the engine's modules import each other in a circle: {}",
            circle.join(" -> ")
        );
    }
}

#[test]
fn the_import_reader_sees_groups_and_root_names() {
    let code = code_of(
        "use crate::{bundle::CompiledBundle,\n    digest};\n// use crate::quarantine;\nfn f() { crate::Tenant::load(); crate::describe::x(); }",
    );
    assert_eq!(
        crate_paths(&code),
        ["bundle", "digest", "Tenant", "describe"]
    );
    let reexports =
        root_reexports("pub use tenant::{LoadError,\n Tenant};\npub use digest::Digest;");
    assert_eq!(reexports["Tenant"], "tenant");
    assert_eq!(reexports["Digest"], "digest");
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let graph = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(
        find_circle(&graph),
        Some(
            vec!["a", "b", "c", "a"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
}

/// The crates `cargo tree -p patrol -e EDGES [MORE...]` lists (`normal`: what the engine
/// depends on; `normal,no-proc-macro`: what is compiled into a program that embeds it).
fn engine_dependencies(edges: &str, more: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "-p", "patrol", "-e", edges, "--prefix", "none"])
        .args(more)
        .args(["--offline", "--locked"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// What a gateway embedding the engine must not get with it.
const NOT_IN_THE_ENGINE: [&str; 9] = [
    "tokio",
    "axum",
    "hyper",
    "rusqlite",
    "clap",
    "rmcp",
    "ureq",
    "rustls",
    "wit-component",
];

#[test]
fn the_engine_brings_no_server_database_or_command_line() {
    // What is compiled into a program that embeds the engine.
    let linked = engine_dependencies("normal,no-proc-macro", &[]);
    assert!(linked.contains("wasmtime"), "{linked:?}");
    let found: Vec<&str> = NOT_IN_THE_ENGINE
        .into_iter()
        .filter(|name| linked.contains(*name))
        .collect();
    assert!(
        found.is_empty(),
        "the engine crate depends on {found:?}; they belong to the store, the server or the \
         command (see ARCHITECTURE.md)"
    );
    // With the compile-time macros too, the one addition is wit-component, which wasmtime's
    // own `bindgen!` macro (part of its `component-model` feature) uses while compiling.
    let all = engine_dependencies("normal", &[]);
    let found: Vec<&str> = NOT_IN_THE_ENGINE
        .into_iter()
        .filter(|name| all.contains(*name) && *name != "wit-component")
        .collect();
    assert!(found.is_empty(), "the engine's macros bring {found:?}");
    if all.contains("wit-component") {
        let dependents = engine_dependencies("normal", &["--invert", "wit-component"]);
        let through_wasmtime = BTreeSet::from(
            [
                "wit-component",
                "wasmtime-internal-wit-bindgen",
                "wasmtime-internal-component-macro",
                "wasmtime",
                "patrol",
            ]
            .map(String::from),
        );
        assert!(
            dependents.is_subset(&through_wasmtime),
            "wit-component reaches the engine through {dependents:?}, not wasmtime's macro alone"
        );
    }
}
