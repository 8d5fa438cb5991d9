//! The crate's module graph has no cycle, and every import runs down the
//! declared layer order.
//!
//! Reads every file under `src/`, takes the paths of its code that start at
//! the crate root (comments, strings, char literals, `#[cfg(test)]` items and
//! the files of `#[cfg(test)] mod x;` left out: tests may use the whole
//! crate), and builds the graph of top-level modules (`src/m.rs` and
//! everything under `src/m/` are module `m`). A path starts at the root after
//! `crate::`, or after a chain of `super::`s as long as its module is deep:
//! in `src/m.rs` `super::` is the root, in `src/m/n.rs` and in an inline
//! `mod n { ... }` of `src/m.rs` `super::super::` is. A path to a name the
//! crate root re-exports (`crate::Runtime`, or `Y` for `pub(crate) use m::X
//! as Y`) counts as a path to the module it comes from; the root's modules
//! and re-exports are read whatever their visibility (`pub(crate)`,
//! `pub(in ...)`).
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
    // What a reader chooses when it joins.
    &["policy"],
    // Slot protocols over single words.
    &["pool", "holders"],
    // The memory and its placements.
    &["arena"],
    &["process"],
    &["shm"],
    // How an arena outlives its handles.
    &["lifetime"],
    // How async tasks wait on an arena.
    &["task_wait"],
    // Handles.
    &["ring_ptr"],
    // Claiming and filling one pool slot outside the ring.
    &["slot_alloc"],
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
    /// The file, as `src/a/b.rs`.
    file: String,
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

/// The files under `src/`, each as its path below `src/` (`a/b.rs`) and
/// its text.
fn source_tree() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(src_dir()).unwrap().to_str().expect("UTF-8 path").replace('\\', "/");
            (rel, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The top-level module a file under `src/` belongs to (`None`: the root).
fn module_of(rel: &str) -> Option<String> {
    let first = rel.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first).to_owned();
    (name != "lib").then_some(name)
}

/// Where [`code_lines`] is at the end of a line: strings and block comments
/// may run on.
#[derive(Clone, Copy, PartialEq)]
enum Lex {
    Code,
    BlockComment,
    /// A string; raw with this many `#`s, or a plain one (`None`).
    Str(Option<usize>),
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The number of `#`s of a raw string whose `r` is at `chars[i]`, if one
/// starts there (`r"`, `r#"`, `br"`, ...).
fn raw_string_at(chars: &[char], i: usize) -> Option<usize> {
    let before = |k: usize| k.checked_sub(1).map(|k| chars[k]);
    let starts_token = match before(i) {
        Some('b') => !before(i - 1).is_some_and(is_ident_char),
        Some(c) => !is_ident_char(c),
        None => true,
    };
    if chars[i] != 'r' || !starts_token {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// The length of a char literal starting at the `'` at `chars[i]`, or `None`
/// for a lifetime or a label (`'a`, `'outer:`).
fn char_literal_at(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        // `'\n'`, `'\''`, `'\u{7f}'`: the closing quote comes after the
        // escaped character.
        '\\' => chars.get(i + 3..)?.iter().position(|&c| c == '\'').map(|p| p + 4),
        _ => (chars.get(i + 2) == Some(&'\'')).then_some(3),
    }
}

/// The code of each line, without comments (and without the contents of
/// strings and char literals: `"//"` does not start a comment, `'{'` does
/// not open a brace), plus whether the line carries a `// layer:` comment.
/// Lines of `#[cfg(test)]` / `#[cfg(all(test, ...))]` items are blanked.
fn code_lines(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut lex = Lex::Code;
    let mut skip_depth: Option<i64> = None; // brace depth of a test item
    let mut pending_test_attr = false;
    for raw in text.lines() {
        let excused = raw.contains("// layer:");
        let mut code = String::new();
        let chars: Vec<char> = raw.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            i += 1;
            match lex {
                Lex::BlockComment => {
                    if c == '*' && next == Some('/') {
                        i += 1;
                        lex = Lex::Code;
                    }
                }
                Lex::Str(None) => {
                    if c == '\\' {
                        i += 1;
                    } else if c == '"' {
                        lex = Lex::Code;
                        code.push('"');
                    }
                }
                Lex::Str(Some(hashes)) => {
                    if c == '"' && chars[i..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes {
                        i += hashes;
                        lex = Lex::Code;
                        code.push('"');
                    }
                }
                Lex::Code => match c {
                    '/' if next == Some('/') => break,
                    '/' if next == Some('*') => {
                        i += 1;
                        lex = Lex::BlockComment;
                    }
                    '"' => {
                        lex = Lex::Str(None);
                        code.push('"');
                    }
                    'r' if raw_string_at(&chars, i - 1).is_some() => {
                        let hashes = raw_string_at(&chars, i - 1).unwrap_or(0);
                        i += hashes + 1;
                        lex = Lex::Str(Some(hashes));
                        code.push('"');
                    }
                    '\'' => match char_literal_at(&chars, i - 1) {
                        Some(len) => {
                            i += len - 1;
                            code.push_str("' '");
                        }
                        None => code.push('\''),
                    },
                    _ => code.push(c),
                },
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
    let end = s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len());
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

/// `t` without a leading visibility: `pub`, `pub(crate)`, `pub(super)`,
/// `pub(in path)`.
fn strip_visibility(t: &str) -> &str {
    let Some(rest) = t.strip_prefix("pub") else { return t };
    if let Some(inner) = rest.strip_prefix('(') {
        return inner.find(')').map_or(t, |end| inner[end + 1..].trim_start());
    }
    if rest.starts_with(char::is_whitespace) { rest.trim_start() } else { t }
}

/// `s` split at its commas outside braces.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0i64, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[from..]);
    parts
}

/// The leaves of a use tree (`a::{b::X, Y as Z}`), each as its full path and
/// the name it binds (`a b X` binds `X`; `a Y` binds `Z`). A glob binds `*`.
fn use_leaves(tree: &str, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    let segments = |path: &str| -> Vec<String> {
        prefix
            .iter()
            .cloned()
            .chain(path.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
            .collect()
    };
    if let (Some(open), Some(close)) = (tree.find('{'), tree.rfind('}')) {
        let path = segments(&tree[..open]);
        for item in split_top_level(&tree[open + 1..close]) {
            use_leaves(item, &path, out);
        }
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((path, alias)) => (path, Some(alias.trim())),
        None => (tree, None),
    };
    let mut path = segments(path);
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    let name = alias.or(path.last().map(String::as_str)).unwrap_or_default().to_owned();
    out.push((path, name));
}

/// The crate root's `mod` names (whatever their visibility) and, for each
/// name it re-exports, the module it comes from.
fn root_items(lib: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lines = code_lines(lib);
    let items: Vec<&str> = lines.iter().map(|(code, _)| strip_visibility(code.trim())).collect();
    let modules: BTreeSet<String> =
        items.iter().filter_map(|t| t.strip_prefix("mod ")).map(|rest| ident(rest.trim_start()).to_owned()).collect();
    let mut reexports = BTreeMap::new();
    for (i, t) in items.iter().enumerate() {
        let Some(rest) = t.strip_prefix("use ") else { continue };
        // The whole statement, which may span lines.
        let mut statement = rest.to_owned();
        for (line, _) in &lines[i + 1..] {
            if statement.contains(';') {
                break;
            }
            statement.push(' ');
            statement.push_str(line);
        }
        let statement = statement.split(';').next().unwrap_or_default();
        let mut leaves = Vec::new();
        use_leaves(statement, &[], &mut leaves);
        for (path, name) in leaves {
            let mut segments = path.iter().map(String::as_str).skip_while(|s| matches!(*s, "crate" | "self" | ""));
            let Some(module) = segments.next() else { continue };
            if modules.contains(module) && name != "*" && name != "_" {
                reexports.insert(name, module.to_owned());
            }
        }
    }
    (modules, reexports)
}

/// How many modules deep below the crate root a file under `src/` is:
/// `lib.rs` 0, `a.rs` and `a/mod.rs` 1, `a/b.rs` 2.
fn file_depth(rel: &str) -> usize {
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    let parts: Vec<&str> = stem.split('/').collect();
    match parts.as_slice() {
        ["lib"] => 0,
        [.., "mod"] => parts.len() - 1,
        _ => parts.len(),
    }
}

/// Whether a line opens an inline module (`mod imp {`).
fn opens_inline_module(code: &str) -> bool {
    strip_visibility(code.trim())
        .strip_prefix("mod ")
        .is_some_and(|rest| rest.trim_start()[ident(rest.trim_start()).len()..].trim_start().starts_with('{'))
}

/// The text after each path of `code` that starts at the crate root: after
/// `crate::` (or `$crate::`), or after a chain of `super::`s as long as the
/// module is deep (`depth`; a shorter chain stays inside the top-level
/// module).
fn root_paths(code: &str, depth: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(pos) = ["crate::", "super::"].iter().filter_map(|p| code[at..].find(p)).min().map(|p| p + at) {
        let before = code[..pos].chars().last();
        let is_super = code[pos..].starts_with("super::");
        at = pos + if is_super { "super::".len() } else { "crate::".len() };
        // `my_crate::x` is another crate's path, `a::super::` not a start.
        if before.is_some_and(|c| is_ident_char(c) || (is_super && c == ':')) {
            continue;
        }
        if !is_super {
            out.push(&code[at..]);
            continue;
        }
        let mut ups = 1;
        while code[at..].starts_with("super::") {
            at += "super::".len();
            ups += 1;
        }
        if ups == depth {
            out.push(&code[at..]);
        }
    }
    out
}

/// The directory under `src/` that holds the files of a file's child
/// modules: nothing for `lib.rs`, `a/` for `a.rs` and `a/mod.rs`, `a/b/` for
/// `a/b.rs`.
fn child_dir(rel: &str) -> String {
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    match stem.strip_suffix("mod").filter(|s| s.is_empty() || s.ends_with('/')) {
        Some(dir) => dir.to_owned(),
        None if stem == "lib" => String::new(),
        None => format!("{stem}/"),
    }
}

/// The modules a file declares only for tests, in files of their own
/// (`#[cfg(test)] mod tests;`), as the paths under `src/` of those files
/// (`a/tests.rs`) and of the directories of their children (`a/tests/`).
fn test_module_files(rel: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending_test_attr = false;
    for raw in text.lines() {
        let t = raw.split("//").next().unwrap_or_default().trim();
        if t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test") {
            pending_test_attr = true;
            continue;
        }
        if pending_test_attr && t.starts_with("#[") {
            continue;
        }
        if std::mem::take(&mut pending_test_attr) {
            let Some(rest) = strip_visibility(t).strip_prefix("mod ") else { continue };
            let name = ident(rest.trim_start());
            if rest.trim_start()[name.len()..].trim_start().starts_with(';') {
                let dir = child_dir(rel);
                out.push(format!("{dir}{name}.rs"));
                out.push(format!("{dir}{name}/"));
            }
        }
    }
    out
}

/// The imports between top-level modules of a tree of files as
/// [`source_tree`] returns them.
fn edges_of(files: &[(String, String)]) -> Vec<Edge> {
    let lib = files.iter().find(|(rel, _)| rel == "lib.rs").map_or("", |(_, text)| text.as_str());
    let (modules, reexports) = root_items(lib);
    let test_only: Vec<String> = files.iter().flat_map(|(rel, text)| test_module_files(rel, text)).collect();
    let mut out = Vec::new();
    for (rel, text) in files {
        let Some(from) = module_of(rel) else { continue };
        // Tests may use the whole crate.
        if test_only.iter().any(|t| if t.ends_with('/') { rel.starts_with(t.as_str()) } else { rel == t }) {
            continue;
        }
        let file = format!("src/{rel}");
        let lines = code_lines(text);
        // The brace depth, and the depth at which each enclosing inline
        // module was opened (each adds a level below the file's module).
        let mut braces = 0i64;
        let mut inline: Vec<i64> = Vec::new();
        for (i, (code, _)) in lines.iter().enumerate() {
            if opens_inline_module(code) {
                inline.push(braces);
            }
            for rest in root_paths(code, file_depth(rel) + inline.len()) {
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
            braces += brace_balance(code);
            while inline.last().is_some_and(|&opened| opened >= braces) {
                inline.pop();
            }
        }
    }
    out
}

fn edges() -> Vec<Edge> {
    edges_of(&source_tree())
}

fn show(edge: &Edge) -> String {
    format!("{} -> {} ({}:{})", edge.from, edge.to, edge.file, edge.line)
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

/// The first segment of every `crate::` path in `lines`, in order.
fn crate_paths(lines: &[(String, bool)]) -> Vec<String> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(i, (code, _))| {
            code.match_indices("crate::")
                .flat_map(|(p, _)| first_segments(&code[p + 7..], lines, i))
                .collect::<Vec<_>>()
        })
        .map(|(name, _)| name)
        .collect()
}

/// The checker itself: it sees a cycle and an upward import, and leaves out
/// comments and test modules.
#[test]
fn the_checker_bites() {
    let text = "use crate::b::X; // a comment naming crate::c\n\
                #[cfg(test)]\nmod tests {\n    use crate::d::Y;\n}\n\
                fn f() { crate::e::g(); }\n";
    let lines = code_lines(text);
    let found = crate_paths(&lines);
    assert_eq!(found, ["b", "e"]);
    let group = code_lines("use crate::{\n    a::X,\n    b::{Y, Z},\n};\n");
    let names: Vec<String> = first_segments(&group[0].0[11..], &group, 0).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "b"]);
    let excused = code_lines("use crate::runtime::Runtime; // layer: why\nuse crate::runtime::Runtime;\n");
    assert_eq!(excused.iter().map(|(_, e)| *e).collect::<Vec<_>>(), [true, false]);
    let edge = |from: &str, to: &str| Edge {
        from: from.into(),
        to: to.into(),
        file: "src/x.rs".into(),
        line: 1,
        excused: false,
    };
    assert!(find_cycle(&[edge("a", "b"), edge("b", "c")]).is_none());
    let cycle = find_cycle(&[edge("a", "b"), edge("b", "c"), edge("c", "a")]).expect("a cycle");
    assert_eq!(cycle.len(), 3);
}

/// A tree of fake files, as [`source_tree`] returns them.
fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files.iter().map(|(rel, text)| ((*rel).to_owned(), (*text).to_owned())).collect()
}

/// The edges of a fake tree, each as `from -> to (file:line)`.
fn shown(files: &[(&str, &str)]) -> Vec<String> {
    edges_of(&tree(files)).iter().map(show).collect()
}

/// `super::` leaves a module: in `src/a.rs` it is the crate root, in
/// `src/a/b.rs` `super::super::` is, and an inline module adds a level.
#[test]
fn the_checker_follows_super_to_the_root() {
    let lib = "mod a;\nmod b;\n";
    assert_eq!(shown(&[("lib.rs", lib), ("a.rs", "use super::b::X;\n")]), ["a -> b (src/a.rs:1)"]);
    assert_eq!(
        shown(&[("lib.rs", lib), ("a/c.rs", "use super::super::b::X;\nuse super::c::Y;\n")]),
        ["a -> b (src/a/c.rs:1)"]
    );
    // In an inline module of `src/a.rs`, `super::` is `a`, and
    // `super::super::` the root.
    let inline = "mod inner {\n    use super::b::X;\n    use super::super::b::Y;\n}\nuse super::{b::Z};\n";
    assert_eq!(shown(&[("lib.rs", lib), ("a.rs", inline)]), ["a -> b (src/a.rs:3)", "a -> b (src/a.rs:5)"]);
    // A re-exported name reached through `super::` at the root.
    let reexport = "mod a;\nmod b;\npub use b::Runtime;\n";
    assert_eq!(shown(&[("lib.rs", reexport), ("a.rs", "use super::Runtime;\n")]), ["a -> b (src/a.rs:1)"]);
    // A cycle made only of `super::` imports is found.
    let files = tree(&[("lib.rs", lib), ("a.rs", "use super::b::X;\n"), ("b/c.rs", "use super::super::a::Y;\n")]);
    let cycle = find_cycle(&edges_of(&files)).expect("a cycle through super::");
    assert_eq!(cycle.len(), 2);
}

/// `pub(crate)`, `pub(super)` and `pub(in ...)` items of the root are
/// modules and re-exports like private and `pub` ones.
#[test]
fn the_checker_reads_restricted_visibility() {
    let lib = "pub(crate) mod a;\npub(super) mod b;\npub(in crate) mod c;\nmod d;\n\
               pub(crate) use a::Alpha;\npub(in crate) use b::{Beta, Gamma};\n";
    let (modules, reexports) = root_items(lib);
    assert_eq!(modules.into_iter().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    assert_eq!(reexports.get("Alpha").map(String::as_str), Some("a"));
    assert_eq!(reexports.get("Gamma").map(String::as_str), Some("b"));
    assert_eq!(
        shown(&[("lib.rs", lib), ("d.rs", "use crate::c::X;\nuse crate::Alpha;\n")]),
        ["d -> c (src/d.rs:1)", "d -> a (src/d.rs:2)"]
    );
}

/// `pub use a::X as Y` re-exports `Y` from `a`, also inside nested groups.
#[test]
fn the_checker_takes_the_name_after_as() {
    let lib = "mod a;\nmod b;\npub use a::X as Y;\npub use b::{\n    c::{P, Q as R},\n    S as T,\n};\n";
    let (_, reexports) = root_items(lib);
    let names: Vec<(&str, &str)> = reexports.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(names, [("P", "b"), ("R", "b"), ("T", "b"), ("Y", "a")]);
}

/// Char literals are not code: `'{'` does not open a brace and `'"'` does
/// not open a string; lifetimes and labels stay code.
#[test]
fn the_checker_skips_char_literals() {
    let text = "fn f<'a>(x: &'a str) -> char { crate::b::g(x); '\"' }\n\
                fn h() -> char { let c = '{'; let q = '\\''; crate::c::g(); c }\n\
                #[cfg(test)]\nmod tests {\n    const B: char = '}';\n    use crate::d::X;\n}\n\
                fn k() { 'outer: loop { break 'outer; } crate::e::g(); }\n";
    let lib = "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\n";
    assert_eq!(
        shown(&[("lib.rs", lib), ("a.rs", text)]),
        ["a -> b (src/a.rs:1)", "a -> c (src/a.rs:2)", "a -> e (src/a.rs:8)"]
    );
}

/// Raw strings and strings that run over several lines are not code either:
/// a `"` in `r#"..."#` does not end it, and a `{` in either opens no brace.
#[test]
fn the_checker_skips_raw_and_multiline_strings() {
    let text = "let a = r#\"a \"crate::d::X\" {\"#; crate::b::f();\n\
                let b = \"one {\n    crate::d::Y\n\"; crate::c::f();\n\
                let c = br\"\\\"; crate::e::f(); let d = '\\\\';\n";
    let lines = code_lines(text);
    let found = crate_paths(&lines);
    assert_eq!(found, ["b", "c", "e"]);
    assert_eq!(lines.iter().map(|(code, _)| brace_balance(code)).sum::<i64>(), 0);
}

/// A module declared only for tests (`#[cfg(test)] mod tests;`) lives in a
/// file of its own; that file, and any under its directory, may use the
/// whole crate like an inline test module.
#[test]
fn the_checker_skips_files_of_test_modules() {
    let lib = "mod a;\nmod b;\n";
    let a = "#[cfg(test)]\n#[allow(unused)]\npub(crate) mod tests;\nmod inner;\n";
    let files = [
        ("lib.rs", lib),
        ("a.rs", a),
        ("a/tests.rs", "use super::super::b::X;\nuse crate::b::Y;\n"),
        ("a/tests/more.rs", "use crate::b::Z;\n"),
        ("a/inner.rs", "use crate::b::W;\n"),
    ];
    assert_eq!(shown(&files), ["a -> b (src/a/inner.rs:1)"]);
}
