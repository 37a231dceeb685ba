//! A small JSON reader and writer for text that comes from outside: the
//! D-Bus replies, stafd's log pages, and our own state files (state.json,
//! boot.json), which may be damaged; [`Fields`] maps an object's members
//! to typed values for the latter.
//!
//! Why not nanoserde's reader (nanoserde still writes the state files): its
//! derived readers skip unknown fields with `DeJsonState::whole_field`,
//! which panics (`unimplemented!`) on a value such as `{"x": }` and loops
//! forever on a truncated nested value (`{"x": [1`) — both observed with
//! nanoserde 0.2.1. With `panic = "abort"` that would be stafd (or anyone
//! answering on its name), or a damaged state file, taking stacd down. And
//! its tokenizer parses every number as a float when it has a fraction and
//! formats tokens in errors with `{:?}`: the float parser and formatter and
//! the derived readers were ~45 KB of the binary. This reader returns an
//! error for any malformed input, bounds nesting, keeps object members in
//! document order (the replies' key order is part of the API,
//! docs/design.md §6.2) and keeps numbers as their text.

use std::fmt::Write as _;

/// Nesting deeper than this is refused (stafd's document is 3 levels deep).
const MAX_DEPTH: usize = 32;

/// A JSON value. Numbers keep their text, so nothing is lost or rounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    /// Members in document order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text (strings as they are, numbers and booleans as
    /// written); `None` for null, arrays and objects.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Json::Str(s) => Some(s.clone()),
            Json::Num(n) => Some(n.clone()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// Why a document or one of its members cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not well-formed JSON: what is wrong, at which byte.
    Syntax { what: &'static str, at: usize },
    /// A value that must be an object is not (`what` names the value).
    NotObject(&'static str),
    /// The member `key` is not `want` (`"a string"`, `"an array"`, ...).
    Bad { key: String, want: &'static str },
    /// The required member `key` is missing.
    Missing(String),
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Syntax { what, at } => write!(f, "{what} at byte {at}"),
            JsonError::NotObject(what) => write!(f, "{what} is not an object"),
            JsonError::Bad { key, want } => write!(f, "\"{key}\" is not {want}"),
            JsonError::Missing(key) => write!(f, "\"{key}\" is missing"),
        }
    }
}

impl std::error::Error for JsonError {}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Parse one JSON document (white space around it allowed).
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError::Syntax { what, at: self.i }
    }

    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a member name"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return Err(self.err("expected ':'"));
                    }
                    let v = self.value(depth + 1)?;
                    m.push((k, v));
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("}") {
                        return Ok(Json::Obj(m));
                    }
                    return Err(self.err("expected ',' or '}'"));
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("]") {
                        return Ok(Json::Arr(a));
                    }
                    return Err(self.err("expected ',' or ']'"));
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') if self.eat("true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Json::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    /// Digits from `self.i`; how many.
    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number, by RFC 8259 §6's grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.i;
        self.eat("-");
        let int_start = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(self.err("bad number"));
        }
        if self.eat(".") && self.digits() == 0 {
            return Err(self.err("bad number"));
        }
        if self.eat("e") || self.eat("E") {
            let _ = self.eat("+") || self.eat("-");
            if self.digits() == 0 {
                return Err(self.err("bad number"));
            }
        }
        // ASCII only, so this slice is UTF-8.
        let t = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        Ok(Json::Num(t))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        // Four hex digits (from_str_radix alone would take a sign: "+fff").
        let h = self
            .s
            .get(self.i..self.i + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(h)
    }

    /// A string; `self.i` is at the opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) && self.eat("\\u") {
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("bad surrogate pair"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(cp).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.err("bad escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b if b < 0x20 => return Err(self.err("control character in string")),
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in string"))
    }
}

/// An object's members, read as typed values. A member that is absent (or
/// `null`, for the optional readers) gives the default; one of another type
/// is an error naming it, as is a missing required member. Unknown members
/// are ignored; of repeated ones the first counts.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(&'a [(String, Json)]);

impl<'a> Fields<'a> {
    /// The members of `v`, which must be an object (`what` names it).
    pub fn of(v: &'a Json, what: &'static str) -> Result<Fields<'a>, JsonError> {
        match v {
            Json::Obj(m) => Ok(Fields(m)),
            _ => Err(JsonError::NotObject(what)),
        }
    }

    fn get(&self, k: &str) -> Option<&'a Json> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    fn bad(k: &str, want: &'static str) -> JsonError {
        JsonError::Bad {
            key: k.to_string(),
            want,
        }
    }

    fn missing(k: &str) -> JsonError {
        JsonError::Missing(k.to_string())
    }

    /// A string member.
    pub fn text(&self, k: &str) -> Result<String, JsonError> {
        self.text_or_empty_if(k, false)
    }

    /// A string member; absent: empty.
    pub fn text_or_empty(&self, k: &str) -> Result<String, JsonError> {
        self.text_or_empty_if(k, true)
    }

    fn text_or_empty_if(&self, k: &str, optional: bool) -> Result<String, JsonError> {
        match self.get(k) {
            Some(Json::Str(s)) => Ok(s.clone()),
            Some(_) => Err(Self::bad(k, "a string")),
            None if optional => Ok(String::new()),
            None => Err(Self::missing(k)),
        }
    }

    /// An integer member in `T`'s range; absent: `default`, unless `None`.
    fn int<T: std::str::FromStr>(&self, k: &str, default: Option<T>) -> Result<T, JsonError> {
        match self.get(k) {
            Some(Json::Num(n)) => n.parse().map_err(|_| Self::bad(k, "an integer in range")),
            Some(_) => Err(Self::bad(k, "a number")),
            None => default.ok_or_else(|| Self::missing(k)),
        }
    }

    /// A `u32` member.
    pub fn u32(&self, k: &str) -> Result<u32, JsonError> {
        self.int(k, None)
    }

    /// A `u32` member; absent: 0.
    pub fn u32_or_zero(&self, k: &str) -> Result<u32, JsonError> {
        self.int(k, Some(0))
    }

    /// An `i64` member; absent or `null`: `None`.
    pub fn opt_i64(&self, k: &str) -> Result<Option<i64>, JsonError> {
        match self.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(_) => self.int(k, None).map(Some),
        }
    }

    /// A boolean member; absent or `null`: `None`.
    pub fn opt_bool(&self, k: &str) -> Result<Option<bool>, JsonError> {
        match self.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Self::bad(k, "true or false")),
        }
    }

    /// An array member.
    pub fn array(&self, k: &str) -> Result<&'a [Json], JsonError> {
        match self.get(k) {
            Some(Json::Arr(a)) => Ok(a),
            Some(_) => Err(Self::bad(k, "an array")),
            None => Err(Self::missing(k)),
        }
    }
}

/// `s` as a JSON string literal; non-ASCII escaped as `\uXXXX`, as Python's
/// `json.dumps` does by default (the original's replies, §6.2).
pub fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut b = [0u16; 2];
                for u in c.encode_utf16(&mut b) {
                    let _ = write!(o, "\\u{u:04x}");
                }
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Compact form with Python's default separators (`", "`, `": "`).
pub fn to_string(v: &Json) -> String {
    let mut o = String::new();
    write_compact(v, &mut o);
    o
}

fn write_compact(v: &Json, o: &mut String) {
    match v {
        Json::Null => o.push_str("null"),
        Json::Bool(b) => o.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => o.push_str(n),
        Json::Str(s) => o.push_str(&quote(s)),
        Json::Arr(a) => {
            o.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    o.push_str(", ");
                }
                write_compact(x, o);
            }
            o.push(']');
        }
        Json::Obj(m) => {
            o.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    o.push_str(", ");
                }
                o.push_str(&quote(k));
                o.push_str(": ");
                write_compact(x, o);
            }
            o.push('}');
        }
    }
}

/// Indented by two spaces, object keys sorted (stacctl's output).
pub fn to_pretty_sorted(v: &Json) -> String {
    let mut o = String::new();
    write_pretty(v, 0, &mut o);
    o
}

fn write_pretty(v: &Json, lvl: usize, o: &mut String) {
    let pad = |o: &mut String, l: usize| o.push_str(&"  ".repeat(l));
    match v {
        Json::Arr(a) if !a.is_empty() => {
            o.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                pad(o, lvl + 1);
                write_pretty(x, lvl + 1, o);
                o.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            pad(o, lvl);
            o.push(']');
        }
        Json::Obj(m) if !m.is_empty() => {
            let mut m: Vec<&(String, Json)> = m.iter().collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            o.push_str("{\n");
            for (i, (k, x)) in m.iter().enumerate() {
                pad(o, lvl + 1);
                o.push_str(&quote(k));
                o.push_str(": ");
                write_pretty(x, lvl + 1, o);
                o.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
            }
            pad(o, lvl);
            o.push('}');
        }
        v => write_compact(v, o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_and_text() {
        let t = r#"[{"b": "x\"y\\z\u00e9\ud83d\ude00", "a": [1, -2.5e3, true, null]}, {}]"#;
        let v = parse(t).unwrap();
        assert_eq!(v, parse(&to_string(&v)).unwrap());
        let Json::Arr(a) = &v else { panic!() };
        assert_eq!(a[0].get("b").unwrap().as_str(), Some("x\"y\\zé😀"));
        assert_eq!(
            to_string(&a[0]),
            r#"{"b": "x\"y\\z\u00e9\ud83d\ude00", "a": [1, -2.5e3, true, null]}"#
        );
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        for bad in [
            "",
            "{",
            r#"{"x": }"#,
            r#"{"x": [1"#,
            r#"{"x" 1}"#,
            r#"{x: 1}"#,
            "[1,]",
            "[1 2]",
            "tru",
            "\"abc",
            "\"a\\q\"",
            "\"\\u12\"",
            "\"\\u+041\"",
            "\"\\u-041\"",
            "\"\\ud800\\u0041\"",
            "01x",
            "+1",
            "1.",
            "[] []",
            "\"\u{1}\"",
            "01",
            "-",
            "-01",
            ".5",
            "-.5",
            "1.e5",
            "1e",
            "1e+",
            "0x1",
            "1.5.5",
            "--1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().to_string().contains("deeply"));
        let ok = "[".repeat(10) + &"]".repeat(10);
        assert!(parse(&ok).is_ok());
        for n in ["0", "-0", "10", "1.5", "-0.25e-3", "1E+9", "12e0"] {
            assert_eq!(parse(n), Ok(Json::Num(n.into())), "{n}");
        }
    }

    #[test]
    fn fields_read_typed_members() {
        let v = parse(r#"{"s": "x", "n": 7, "neg": -3, "b": true, "z": null, "a": [1], "big": 4294967296, "f": 1.5}"#).unwrap();
        let f = Fields::of(&v, "it").unwrap();
        assert_eq!(f.text("s"), Ok("x".into()));
        assert_eq!(f.text_or_empty("none"), Ok(String::new()));
        assert_eq!(f.text("none"), Err(JsonError::Missing("none".into())));
        assert_eq!(
            f.text("n"),
            Err(JsonError::Bad {
                key: "n".into(),
                want: "a string"
            })
        );
        assert_eq!((f.u32("n"), f.u32_or_zero("none")), (Ok(7), Ok(0)));
        for k in ["neg", "big", "f"] {
            assert!(f.u32(k).is_err(), "{k}");
        }
        assert_eq!(f.opt_i64("neg"), Ok(Some(-3)));
        assert_eq!((f.opt_i64("z"), f.opt_i64("none")), (Ok(None), Ok(None)));
        assert!(f.opt_i64("s").is_err());
        assert_eq!(
            (f.opt_bool("b"), f.opt_bool("z")),
            (Ok(Some(true)), Ok(None))
        );
        assert!(f.opt_bool("n").is_err());
        assert_eq!(f.array("a").map(<[Json]>::len), Ok(1));
        assert!(f.array("s").is_err() && f.array("none").is_err());
        assert!(Fields::of(&Json::Null, "it").is_err());
    }

    #[test]
    fn pretty_sorts_keys() {
        let v = parse(r#"{"b": 1, "a": {"d": [], "c": [2, "x"]}}"#).unwrap();
        assert_eq!(
            to_pretty_sorted(&v),
            "{\n  \"a\": {\n    \"c\": [\n      2,\n      \"x\"\n    ],\n    \"d\": []\n  },\n  \"b\": 1\n}"
        );
    }
}
