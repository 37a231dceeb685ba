//! A small INI reader with nvme-stas's rules (docs/design.md §2.1): `[Section]`
//! names are case-sensitive, keys are folded to lower case, only `=`
//! separates key and value (first `=` only), full-line `#`/`;` comments, an
//! indented line continues the previous key as an additional value, repeated
//! keys and sections are kept in file order. docs/design.md D11 adds inline comments:
//! ` #...` after white space.
//!
//! The original uses Python's `configparser` (non-strict, valueless keys
//! allowed, delimiter `=` only); the structural rules below are that parser's:
//! a line is a continuation when it is indented deeper than the line that
//! started the current key; a section header is `[`, a non-empty name, and the
//! last `]` of the line.

use super::ConfigError;
use std::path::Path;

/// One value of a key: the key's own line, or one of its continuation lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub section: String,
    /// Lower case.
    pub key: String,
    /// Trimmed; `None` for a key written without `=`.
    pub value: Option<String>,
    /// 1-based line number.
    pub line: usize,
}

/// A parsed file: everything in file order; duplicate sections merge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    /// Each distinct section name with the line of its first header.
    pub sections: Vec<(String, usize)>,
    pub entries: Vec<Entry>,
}

/// Cut an inline comment (docs/design.md D11): the first `#` preceded by a space or tab.
fn strip_inline_comment(line: &str) -> &str {
    let b = line.as_bytes();
    match (1..b.len()).find(|&i| b[i] == b'#' && matches!(b[i - 1], b' ' | b'\t')) {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Parse `text`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Ini, ConfigError> {
    let err = |line, msg: &str| ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        msg: msg.into(),
    };
    let mut ini = Ini::default();
    // The section names seen: a file of many sections stays linear.
    let mut seen = std::collections::HashSet::new();
    let mut section: Option<String> = None;
    // Indentation of the line that started the current key, and whether that
    // key has a value (a valueless key cannot be continued: Python 3.13's
    // MultilineContinuationError; older versions crash).
    let mut key: Option<(usize, bool)> = None;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let t = raw.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let line = strip_inline_comment(raw);
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if let Some((key_indent, has_value)) = key {
            if indent > key_indent {
                if !has_value {
                    return Err(err(n, "indented line continues a key that has no value"));
                }
                if let Some(prev) = ini.entries.last() {
                    let e = Entry {
                        value: Some(t.to_string()),
                        line: n,
                        ..prev.clone()
                    };
                    ini.entries.push(e);
                }
                continue;
            }
        }
        let header = t
            .strip_prefix('[')
            .and_then(|r| r.rfind(']').map(|j| &r[..j]));
        if let Some(h) = header.filter(|h| !h.is_empty()) {
            if seen.insert(h) {
                ini.sections.push((h.to_string(), n));
            }
            section = Some(h.to_string());
            key = None;
            continue;
        }
        let Some(sec) = &section else {
            return Err(err(n, "key outside any [Section]"));
        };
        let (k, v) = match t.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().to_string())),
            None => (t, None),
        };
        if k.is_empty() {
            return Err(err(n, "line starts with '=': the key is missing"));
        }
        key = Some((indent, v.is_some()));
        ini.entries.push(Entry {
            section: sec.clone(),
            key: k.to_lowercase(),
            value: v,
            line: n,
        });
    }
    Ok(ini)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(String, String, Option<String>, usize)> {
        let ini = parse(text, Path::new("t.conf")).expect("parses");
        let e = ini.entries.into_iter();
        e.map(|e| (e.section, e.key, e.value, e.line)).collect()
    }

    fn e(s: &str, k: &str, v: Option<&str>, l: usize) -> (String, String, Option<String>, usize) {
        (s.into(), k.into(), v.map(Into::into), l)
    }

    #[test]
    #[rustfmt::skip]
    fn reads_entries_in_file_order() {
        type Want<'a> = (&'a str, &'a str, Option<&'a str>, usize);
        let cases: &[(&str, &[Want])] = &[
            // keys folded, sections kept as written, values trimmed
            ("[Global]\n  KaTo =  5 \n", &[("Global", "kato", Some("5"), 2)]),
            ("[global]\nx=1", &[("global", "x", Some("1"), 2)]),
            // only '=' separates: `kato: 5` is a valueless key (§2.1); first '=' only
            ("[G]\nkato: 5\n", &[("G", "kato: 5", None, 2)]),
            ("[G]\nk=a=b=\n", &[("G", "k", Some("a=b="), 2)]),
            ("[G]\nk=\n", &[("G", "k", Some(""), 2)]),
            // full-line comments, also indented; they do not end a value
            ("[G]\n# c\n ; c\nk=1\n   # c\n", &[("G", "k", Some("1"), 4)]),
            // docs/design.md D11: ` #` after white space is a comment (the original keeps it)
            ("[G]\nk = tcp # c\n", &[("G", "k", Some("tcp"), 2)]),
            ("[G]\nk = a\t# c\n", &[("G", "k", Some("a"), 2)]),
            ("[G]\nk = a#b;c\n", &[("G", "k", Some("a#b;c"), 2)]),
            ("[G]\nk = a ; c\n", &[("G", "k", Some("a ; c"), 2)]),
            ("[G] # c\nk=1", &[("G", "k", Some("1"), 2)]),
            // continuation lines are additional values, each with its own line
            ("[C]\ncontroller=a\n  b\n\n    c # x\nk=1\n",
             &[("C", "controller", Some("a"), 2), ("C", "controller", Some("b"), 3),
               ("C", "controller", Some("c"), 5), ("C", "k", Some("1"), 6)]),
            // indented keys after a header are keys; deeper lines continue them
            ("[G]\n  a=1\n  b=2\n    c\n", &[("G", "a", Some("1"), 2), ("G", "b", Some("2"), 3), ("G", "b", Some("c"), 4)]),
            // duplicate sections and keys are all kept, in order
            ("[A]\nk=1\n[B]\nk=2\n[A]\nk=3\r\n", &[("A", "k", Some("1"), 2), ("B", "k", Some("2"), 4), ("A", "k", Some("3"), 6)]),
            // header: up to the last ']'; text after it is ignored (Python's SECTCRE)
            ("\u{feff}[A]b]x\nk", &[("A]b", "k", None, 2)]),
        ];
        for (text, want) in cases {
            let want: Vec<_> = want.iter().map(|(s, k, v, l)| e(s, k, *v, *l)).collect();
            assert_eq!(entries(text), want, "{text:?}");
        }
    }

    #[test]
    fn duplicate_sections_are_listed_once() {
        // `[]` is not a header (empty name): it is a valueless key in [A].
        let ini = parse("[A]\n[B]\n[A]\n[]\n", Path::new("t")).expect("parses");
        assert_eq!(ini.sections, vec![("A".into(), 1), ("B".into(), 2)]);
        let entry = Entry {
            section: "A".into(),
            key: "[]".into(),
            value: None,
            line: 4,
        };
        assert_eq!(ini.entries, vec![entry]);
    }

    #[test]
    fn structural_errors_name_the_line() {
        let cases = [
            ("kato=5\n[Global]\n", 1),
            ("# c\n\n  kato\n", 3),
            ("[G]\nk=1\n= 5\n", 3),
            ("[G]\nk\n  more\n", 3),
        ];
        for (text, line) in cases {
            match parse(text, Path::new("x.conf")) {
                Err(ConfigError::Syntax { line: l, path, .. }) => {
                    assert_eq!((l, path.as_path()), (line, Path::new("x.conf")), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
