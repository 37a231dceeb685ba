//! The corpus of the differential test against nvme-stas
//! (tests/stas-corpus, run in the VM by tests/vm/q-stas-differential.sh):
//! at least 30 configurations, each a directory with stacd.conf and
//! sys.conf; together they use every key nvme-stas 2.4.1 documents in
//! stacd.conf(5) and sys.conf(5), in its section and on `controller=`
//! lines; and every `deliberate` note names a row of docs/migrating.md.
//! Read with a scan of its own (not our parser): the corpus must not
//! depend on what our parser accepts.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// nvme-stas 2.4.1's keys, by section (its etc/stas/stacd.conf and
/// sys.conf.doc, as Debian 13 installs them).
const SECTION_KEYS: &[(&str, &[&str])] = &[
    (
        "Global",
        &[
            "tron",
            "hdr-digest",
            "data-digest",
            "kato",
            "nr-io-queues",
            "nr-write-queues",
            "nr-poll-queues",
            "queue-size",
            "reconnect-delay",
            "ctrl-loss-tmo",
            "disable-sqflow",
            "ignore-iface",
            "ip-family",
        ],
    ),
    (
        "I/O controller connection management",
        &[
            "disconnect-scope",
            "disconnect-trtypes",
            "connect-attempts-on-ncc",
        ],
    ),
    ("Controllers", &["controller", "exclude"]),
];
const CONTROLLER_KEYS: &[&str] = &[
    "transport",
    "traddr",
    "trsvcid",
    "host-traddr",
    "host-iface",
    "nqn",
    "dhchap-secret",
    "dhchap-ctrl-secret",
    "hdr-digest",
    "data-digest",
    "nr-io-queues",
    "nr-write-queues",
    "nr-poll-queues",
    "queue-size",
    "kato",
    "reconnect-delay",
    "ctrl-loss-tmo",
    "disable-sqflow",
];
const HOST_KEYS: &[&str] = &["nqn", "id", "key", "symname"];

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stas-corpus");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// (section, key, value) of every `key = value` line, comments dropped
fn entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some((k, v)) = l.split_once('=') {
            out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

#[test]
fn the_corpus_covers_every_key_of_the_original() {
    let dirs = corpus();
    assert!(dirs.len() >= 30, "{} configurations", dirs.len());
    let mut seen = BTreeSet::new();
    let mut on_lines = BTreeSet::new();
    let mut host = BTreeSet::new();
    for d in &dirs {
        let stacd = std::fs::read_to_string(d.join("stacd.conf"))
            .unwrap_or_else(|e| panic!("{}: stacd.conf: {e}", d.display()));
        let sys = std::fs::read_to_string(d.join("sys.conf"))
            .unwrap_or_else(|e| panic!("{}: sys.conf: {e}", d.display()));
        for (s, k, v) in entries(&stacd) {
            if k == "controller" {
                for kv in v.split(';') {
                    if let Some((ck, _)) = kv.split_once('=') {
                        on_lines.insert(ck.trim().to_string());
                    }
                }
            }
            seen.insert((s, k));
        }
        for (s, k, _) in entries(&sys) {
            if s == "Host" {
                host.insert(k);
            }
        }
    }
    for (s, keys) in SECTION_KEYS {
        for k in *keys {
            assert!(
                seen.contains(&(s.to_string(), k.to_string())),
                "no configuration sets [{s}] {k}"
            );
        }
    }
    for k in CONTROLLER_KEYS {
        assert!(on_lines.contains(*k), "no controller= line has {k}");
    }
    for k in HOST_KEYS {
        assert!(host.contains(*k), "no sys.conf sets [Host] {k}");
    }
    // The kinds of input the issue names, by the corpus's directory names.
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for kind in [
        "exclude",
        "overrides",
        "ip-family-ipv4",
        "ip-family-ipv6",
        "duplicates",
        "bad-",
    ] {
        assert!(names.iter().any(|n| n.contains(kind)), "nothing on {kind}");
    }
}

#[test]
fn every_deliberate_difference_names_a_row_of_migrating_md() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/migrating.md"))
            .unwrap();
    let mut n = 0;
    for d in corpus() {
        let Ok(note) = std::fs::read_to_string(d.join("deliberate")) else {
            continue;
        };
        n += 1;
        let note = note.trim();
        let (section, topic) = note
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}: deliberate is not 'Section: topic'", d.display()));
        // The rows of that section of docs/migrating.md.
        let part = doc
            .split("\n## ")
            .find(|p| p.starts_with(section))
            .unwrap_or_else(|| {
                panic!("{}: no section {section} in docs/migrating.md", d.display())
            });
        assert!(
            part.lines().any(|l| l.starts_with(&format!("| {topic} |"))),
            "{}: no row '{topic}' in section {section} of docs/migrating.md",
            d.display()
        );
    }
    assert!(n > 0);
}
