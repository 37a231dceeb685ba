//! The layout's rule (docs/design.md §A4): modules import downwards only,
//! so no two modules of src/ import each other, directly or through
//! others. A module is a file (`a/b.rs` is `a::b`, `a/mod.rs` is `a`); it
//! imports the longest module prefix of each `crate::` and `super::` path
//! in its code (comments, strings and its `mod tests` left out: a doc
//! link is not an import, and test helpers may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .to_string();
        if p.is_dir() {
            let mut pre = prefix.to_vec();
            pre.push(name);
            modules(&p, &pre, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut m = prefix.to_vec();
            if !matches!(stem, "mod" | "lib" | "main") {
                m.push(stem.to_string());
            }
            out.insert(
                m.join("::"),
                std::fs::read_to_string(&p).expect("a source file"),
            );
        }
    }
}

/// The code of a file without its comments, string contents and test
/// module.
fn code(src: &str) -> String {
    let src = match src.find("#[cfg(test)]\nmod tests") {
        Some(i) => &src[..i],
        None => src,
    };
    let mut out = String::new();
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut esc = false;
                for c in chars.by_ref() {
                    match (esc, c) {
                        (true, _) => esc = false,
                        (false, '\\') => esc = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            // A char literal like '"' would open a string above.
            '\'' if chars.peek() == Some(&'"') => {
                chars.next();
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths a `use` tree or a path expression names, from `s` (the text
/// right after `crate::` or `super::`), with `{a, b::c}` groups expanded.
fn paths(s: &str, prefix: &str, out: &mut Vec<String>) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let path = format!("{prefix}{}", &s[..end]);
    if !s[end..].starts_with('{') {
        out.push(path);
        return;
    }
    let (mut depth, mut start) = (0, end + 1);
    for (i, c) in s.char_indices().skip(end) {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                paths(s[start..i].trim(), &path, out);
                start = i + 1;
                if c == '}' {
                    return;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
}

fn imports(name: &str, code: &str, mods: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut refs = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        paths(&code[i + 7..], "", &mut refs);
    }
    let parent: Vec<&str> = name.split("::").collect();
    let parent = parent[..parent.len().saturating_sub(1)].join("::");
    for (i, _) in code.match_indices("super::") {
        let pre = if parent.is_empty() {
            String::new()
        } else {
            format!("{parent}::")
        };
        paths(&code[i + 7..], &pre, &mut refs);
    }
    refs.iter()
        .filter_map(|r| {
            let parts: Vec<&str> = r
                .split("::")
                .filter(|p| !p.is_empty() && *p != "self")
                .collect();
            (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|m| mods.contains_key(m))
        })
        .filter(|m| m != name)
        .collect()
}

#[test]
fn no_module_imports_itself_through_others() {
    let mut mods = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut mods,
    );
    assert!(mods.len() > 40, "src/ read: {} modules", mods.len());
    let graph: BTreeMap<&str, BTreeSet<String>> = mods
        .iter()
        .map(|(m, s)| (m.as_str(), imports(m, &code(s), &mods)))
        .collect();
    // The reader must see imports, or an empty graph would pass.
    assert!(graph["app::daemon"].contains("reconcile::engine"));
    assert!(graph["app::once"].contains("app::run_loop"));
    // A cycle: a module reachable from one it imports.
    let mut cycles = Vec::new();
    for (&m, deps) in &graph {
        for d in deps {
            let mut seen = BTreeSet::new();
            let mut todo = vec![(d.clone(), vec![m.to_string(), d.clone()])];
            while let Some((n, trail)) = todo.pop() {
                if !seen.insert(n.clone()) {
                    continue;
                }
                for next in graph.get(n.as_str()).into_iter().flatten() {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    if next == m {
                        cycles.push(t.join(" -> "));
                    } else {
                        todo.push((next.clone(), t));
                    }
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
