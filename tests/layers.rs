//! The crate's module graph has no cycle, and every import runs down the
//! declared layer order.
//!
//! Reads every file under `src/`, takes the `crate::m` and `super::` paths of
//! its code (comments and `#[cfg(test)]` modules left out: tests may use the
//! whole crate), and builds the graph of top-level modules (`src/m.rs` and
//! everything under `src/m/` are module `m`). A path to a name the crate root
//! re-exports (`crate::Runtime`) counts as a path to the module it comes from.
//!
//! Two checks:
//!
//! * **No cycle.** One is printed as `a -> b -> ... -> a`, each edge with the
//!   file and line that makes it.
//! * **Layers.** [`LAYERS`] lists the modules lowest first; a module may
//!   import from its own layer or a lower one. An import from a higher layer
//!   fails unless its line carries a `// layer:` comment saying why.
//!
//! A plain test with no dependency, so it runs with the rest of the suite in
//! CI. A new module must be added to [`LAYERS`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first; the modules of one entry are one layer.
const LAYERS: &[&[&str]] = &[
    // The one door to atomics, and test-only fault injection.
    &["sync", "failpoint"],
    // Plain data: size classes, the file's format, errors.
    &["event"],
    &["layout"],
    &["error"],
    // What a header records, and how handles wait on it.
    &["config", "wait"],
    // Slot protocols over single words.
    &["pool", "holders"],
    // The memory and its placements.
    &["arena"],
    &["process"],
    &["shm"],
    // How an arena outlives its handles.
    &["lifetime"],
    // Handles.
    &["ring_ptr"],
    &["stats"],
    &["observer"],
    &["writer"],
    &["reader"],
    &["alloc"],
    // The top: the runtime, its builder, and the C ABI over them.
    &["runtime"],
    &["builder"],
    &["ffi"],
];

/// One import: from module `from` to module `to`, at `file:line`.
#[derive(Clone, Debug)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
    /// The line carries a `// layer:` comment.
    excused: bool,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("src/ is readable").map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None`: the root).
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src_dir()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib").then_some(name)
}

/// The code of each line, without comments (and without string contents:
/// `"//"` inside a string does not start a comment), plus whether the line
/// carries a `// layer:` comment. Lines of `#[cfg(test)]` / `#[cfg(all(test,
/// ...))]` items are blanked.
fn code_lines(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut in_block_comment = false;
    let mut skip_depth: Option<i64> = None; // brace depth of a test item
    let mut pending_test_attr = false;
    for raw in text.lines() {
        let excused = raw.contains("// layer:");
        let mut code = String::new();
        let mut chars = raw.chars().peekable();
        let mut in_str = false;
        while let Some(c) = chars.next() {
            if in_block_comment {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    in_block_comment = false;
                }
                continue;
            }
            if in_str {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_str = false;
                    code.push('"');
                }
                continue;
            }
            match c {
                '/' if chars.peek() == Some(&'/') => break,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    in_block_comment = true;
                }
                '"' => {
                    in_str = true;
                    code.push('"');
                }
                _ => code.push(c),
            }
        }
        let trimmed = code.trim();
        if let Some(depth) = skip_depth.as_mut() {
            *depth += brace_balance(&code);
            if *depth <= 0 && code.contains('}') {
                skip_depth = None;
            }
            out.push((String::new(), false));
            continue;
        }
        let is_test_attr = trimmed.starts_with("#[cfg(test)]") || trimmed.starts_with("#[cfg(all(test");
        if is_test_attr || (pending_test_attr && trimmed.starts_with("#[")) {
            pending_test_attr = true;
            out.push((String::new(), false));
            continue;
        }
        if pending_test_attr {
            pending_test_attr = false;
            let balance = brace_balance(&code);
            if code.contains('{') && balance > 0 {
                skip_depth = Some(balance);
            }
            // One-line items (`use ...;`, `mod x;`) end here.
            out.push((String::new(), false));
            continue;
        }
        out.push((code, excused));
    }
    out
}

fn brace_balance(code: &str) -> i64 {
    code.chars()
        .map(|c| {
            if c == '{' {
                1
            } else if c == '}' {
                -1
            } else {
                0
            }
        })
        .sum()
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The first segments of the paths a `crate::` at the start of `rest` names:
/// one, or several for a group `crate::{a::X, b::Y}` (which may span lines).
fn first_segments(rest: &str, lines: &[(String, bool)], at: usize) -> Vec<(String, usize)> {
    if !rest.starts_with('{') {
        return vec![(ident(rest).to_owned(), at)];
    }
    // Walk the group, line by line, keeping depth-1 items.
    let mut out = Vec::new();
    let mut depth = 0i64;
    let mut expect_item = false;
    let mut line = at;
    let mut text: &str = rest;
    loop {
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            let c = bytes[i] as char;
            match c {
                '{' => {
                    depth += 1;
                    expect_item = depth == 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return out;
                    }
                }
                ',' if depth == 1 => expect_item = true,
                c if expect_item && (c.is_alphanumeric() || c == '_') => {
                    let name = ident(&text[i..]);
                    out.push((name.to_owned(), line));
                    expect_item = false;
                    i += name.len();
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        line += 1;
        match lines.get(line) {
            Some((next, _)) => text = next,
            None => return out,
        }
    }
}

/// The crate root's `mod` names and, for each name it re-exports, the
/// module it comes from.
fn root_items(lib: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    let lines = code_lines(lib);
    for (i, (code, _)) in lines.iter().enumerate() {
        let t = code.trim();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        if let Some(rest) = t.strip_prefix("mod ") {
            modules.insert(ident(rest).to_owned());
        }
        if let Some(rest) = t.strip_prefix("use ") {
            let module = ident(rest).to_owned();
            let after = &rest[module.len()..];
            let Some(after) = after.strip_prefix("::") else { continue };
            let names: Vec<String> = if after.starts_with('{') {
                let mut group = String::new();
                for (line, _) in &lines[i..] {
                    group.push_str(line);
                    if line.contains('}') {
                        break;
                    }
                }
                let inner = &group[group.find('{').unwrap() + 1..group.find('}').unwrap()];
                inner.split(',').map(|s| s.trim().rsplit("::").next().unwrap().trim().to_owned()).collect()
            } else {
                vec![after.trim_end_matches(';').rsplit("::").next().unwrap().trim().to_owned()]
            };
            for name in names.into_iter().filter(|n| !n.is_empty()) {
                reexports.insert(name, module.clone());
            }
        }
    }
    (modules, reexports)
}

fn edges() -> Vec<Edge> {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    let (modules, reexports) = root_items(&lib);
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut out = Vec::new();
    for file in files {
        let Some(from) = module_of(&file) else { continue };
        let text = fs::read_to_string(&file).unwrap();
        let lines = code_lines(&text);
        for (i, (code, _)) in lines.iter().enumerate() {
            let mut rest = code.as_str();
            while let Some(pos) = rest.find("crate::") {
                let before = rest[..pos].chars().last();
                rest = &rest[pos + "crate::".len()..];
                // `my_crate::x` is another crate's path; `$crate::` is ours.
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                for (name, line) in first_segments(rest, &lines, i) {
                    let to = if modules.contains(&name) {
                        name
                    } else if let Some(m) = reexports.get(&name) {
                        m.clone()
                    } else {
                        continue;
                    };
                    if to != from {
                        let excused = lines[line].1 || lines[i].1;
                        out.push(Edge { from: from.clone(), to, file: file.clone(), line: line + 1, excused });
                    }
                }
            }
            // `super::` never leaves the top-level module: a file under
            // `src/m/` or an inline module of `src/m.rs` is inside `m`.
        }
    }
    out
}

fn show(edge: &Edge) -> String {
    let rel = edge.file.strip_prefix(src_dir().parent().unwrap()).unwrap();
    format!("{} -> {} ({}:{})", edge.from, edge.to, rel.display(), edge.line)
}

/// A cycle of the graph, as its edges, if there is one.
fn find_cycle(edges: &[Edge]) -> Option<Vec<Edge>> {
    let mut adj: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in edges {
        adj.entry(&e.from).or_default().push(e);
    }
    // Depth-first search with colours: 1 on the stack, 2 done.
    let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
    let nodes: Vec<&str> = adj.keys().copied().collect();
    for start in nodes {
        if colour.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        let mut path: Vec<&Edge> = Vec::new();
        colour.insert(start, 1);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let out = adj.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(edge) = out.get(*next) {
                *next += 1;
                match colour.get(edge.to.as_str()).copied().unwrap_or(0) {
                    0 => {
                        colour.insert(&edge.to, 1);
                        path.push(edge);
                        stack.push((&edge.to, 0));
                    }
                    1 => {
                        // Back edge: the cycle is the path from `edge.to`.
                        let from = path.iter().position(|e| e.from == edge.to).unwrap_or(path.len());
                        let mut cycle: Vec<Edge> = path[from..].iter().map(|e| (*e).clone()).collect();
                        cycle.push((*edge).clone());
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                colour.insert(node, 2);
                stack.pop();
                path.pop();
            }
        }
    }
    None
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
#[cfg_attr(miri, ignore = "reads src/, which Miri's isolation forbids; a static check with nothing to interpret")]
fn every_module_has_a_layer() {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    let (modules, _) = root_items(&lib);
    let missing: Vec<_> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(missing.is_empty(), "modules missing from LAYERS in tests/layers.rs: {missing:?}");
}

#[test]
#[cfg_attr(miri, ignore = "reads src/, which Miri's isolation forbids; a static check with nothing to interpret")]
fn the_module_graph_has_no_cycle() {
    if let Some(cycle) = find_cycle(&edges()) {
        let names: Vec<&str> =
            cycle.iter().map(|e| e.from.as_str()).chain(std::iter::once(cycle[0].from.as_str())).collect();
        let lines: Vec<String> = cycle.iter().map(show).collect();
        panic!("import cycle: {}\n  {}", names.join(" -> "), lines.join("\n  "));
    }
}

#[test]
#[cfg_attr(miri, ignore = "reads src/, which Miri's isolation forbids; a static check with nothing to interpret")]
fn imports_run_down_the_layers() {
    let upward: Vec<String> = edges()
        .iter()
        .filter(|e| !e.excused)
        .filter(|e| matches!((layer_of(&e.from), layer_of(&e.to)), (Some(a), Some(b)) if b > a))
        .map(show)
        .collect();
    assert!(
        upward.is_empty(),
        "{} upward import(s) without a `// layer:` comment saying why:\n  {}",
        upward.len(),
        upward.join("\n  ")
    );
}

/// The checker itself: it sees a cycle and an upward import, and leaves out
/// comments and test modules.
#[test]
fn the_checker_bites() {
    let text = "use crate::b::X; // a comment naming crate::c\n\
                #[cfg(test)]\nmod tests {\n    use crate::d::Y;\n}\n\
                fn f() { crate::e::g(); }\n";
    let lines = code_lines(text);
    let found: Vec<String> = lines
        .iter()
        .enumerate()
        .flat_map(|(i, (code, _))| {
            code.match_indices("crate::")
                .flat_map(|(p, _)| first_segments(&code[p + 7..], &lines, i))
                .collect::<Vec<_>>()
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(found, ["b", "e"]);
    let group = code_lines("use crate::{\n    a::X,\n    b::{Y, Z},\n};\n");
    let names: Vec<String> = first_segments(&group[0].0[11..], &group, 0).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "b"]);
    let excused = code_lines("use crate::runtime::Runtime; // layer: why\nuse crate::runtime::Runtime;\n");
    assert_eq!(excused.iter().map(|(_, e)| *e).collect::<Vec<_>>(), [true, false]);
    let edge = |from: &str, to: &str| Edge {
        from: from.into(),
        to: to.into(),
        file: src_dir().join("x.rs"),
        line: 1,
        excused: false,
    };
    assert!(find_cycle(&[edge("a", "b"), edge("b", "c")]).is_none());
    let cycle = find_cycle(&[edge("a", "b"), edge("b", "c"), edge("c", "a")]).expect("a cycle");
    assert_eq!(cycle.len(), 3);
}
