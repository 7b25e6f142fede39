//! A fast parser for the block-style YAML subset that templates usually produce.
//!
//! Rendering 100,000+ objects spends most of its time parsing YAML. This parser handles block
//! mappings and sequences, plain, single- and double-quoted scalars, `|`/`|-` literal blocks,
//! empty flow collections (`{}`, `[]`) and comments, and returns `None` for anything else
//! (anchors, tags, flow collections with content, folded blocks, multi-line scalars, plain
//! scalars whose type is not obvious, duplicate keys, tabs). The caller then falls back to the
//! full YAML parser, so the result is always the same as the full parser's; a test checks
//! that on every rendered object.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// A parsed YAML node. Scalars borrow from the rendered text where they can; mappings keep
/// their keys in document order. Cheaper to build, edit and write out as JSON than a
/// `serde_json::Value` (no per-mapping hash table, no copy of unescaped strings).
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Num(Number),
    Str(Cow<'a, str>),
    Seq(Vec<Node<'a>>),
    /// Entries in document order, keys unique.
    Map(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The node of a JSON value (for documents the fast parser does not handle).
    pub fn from_json(value: Value) -> Node<'a> {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(b),
            Value::Number(n) => Node::Num(n),
            Value::String(s) => Node::Str(Cow::Owned(s)),
            Value::Array(items) => Node::Seq(items.into_iter().map(Node::from_json).collect()),
            Value::Object(map) => Node::Map(
                map.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Node::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The equivalent JSON value.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    pub fn to_json(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(n) => Value::Number(n.clone()),
            Node::Str(s) => Value::String(s.to_string()),
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.to_string(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// Appends the node as compact JSON, byte for byte what `serde_json` writes for
    /// [`Node::to_json`].
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            // Writing into a Vec cannot fail.
            Node::Num(n) => serde_json::to_writer(&mut *out, n).unwrap_or(()),
            Node::Str(s) => write_str(out, s),
            Node::Seq(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_json(out);
                }
                out.push(b']');
            }
            Node::Map(entries) => {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    v.write_json(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The compact JSON text of the node.
    pub fn json_text(&self) -> String {
        self.json_text_with_capacity(256)
    }

    /// The compact JSON text of the node, written into a buffer of `capacity` bytes to start
    /// with (the length of the YAML it came from is a good guess).
    pub fn json_text_with_capacity(&self, capacity: usize) -> String {
        let mut out = Vec::with_capacity(capacity);
        self.write_json(&mut out);
        // Only valid UTF-8 is ever written.
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Appends `s` as a JSON string literal, as `serde_json` writes it. Most strings of a
/// manifest need no escape: those are copied whole.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        serde_json::to_writer(&mut *out, s).unwrap_or(());
    }
}

/// Whether a string has a byte JSON escapes (`"`, `\\`, a control character), eight bytes at
/// a time.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a word has a byte below `n` (n <= 0x80); exact for "any byte".
    let has_less = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let has_byte = |x: u64, b: u8| has_less(x ^ (ONES * u64::from(b)), 1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(w);
        if has_less(x, 0x20) || has_byte(x, b'"') || has_byte(x, b'\\') {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The value under `key` in mapping entries, mutable.
pub fn entry_mut<'m, 'a>(
    entries: &'m mut [(Cow<'a, str>, Node<'a>)],
    key: &str,
) -> Option<&'m mut Node<'a>> {
    entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Sets `key` in mapping entries: replaces the value in place when present (keeping the key's
/// position, like `serde_json::Map::insert`), appends otherwise.
pub fn set<'a>(entries: &mut Vec<(Cow<'a, str>, Node<'a>)>, key: Cow<'a, str>, value: Node<'a>) {
    match entry_mut(entries, &key) {
        Some(slot) => *slot = value,
        None => entries.push((key, value)),
    }
}

struct Line<'a> {
    indent: usize,
    text: &'a str,
}

/// Parses `text`, or `None` when it uses YAML this parser does not handle.
#[cfg(any(test, debug_assertions))]
pub fn parse_fast(text: &str) -> Option<Value> {
    parse_fast_node(text).map(|n| n.to_json())
}

/// Parses `text` into a [`Node`], or `None` when it uses YAML this parser does not handle.
pub fn parse_fast_node(text: &str) -> Option<Node<'_>> {
    fn line(raw: &str) -> Line<'_> {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = raw.bytes().take_while(|b| *b == b' ').count();
        Line {
            indent,
            text: &raw[indent..],
        }
    }
    let mut lines = Vec::with_capacity(text.len() / 24 + 4);
    // One scan finds the line ends and any tab (left to the full parser).
    let mut start = 0;
    for at in memchr::memchr2_iter(b'\n', b'\t', text.as_bytes()) {
        if text.as_bytes()[at] == b'\t' {
            return None;
        }
        lines.push(line(&text[start..at]));
        start = at + 1;
    }
    lines.push(line(&text[start..]));
    let mut p = Parser { lines, pos: 0 };
    p.skip_blank();
    if p.pos >= p.lines.len() {
        return Some(Node::Null);
    }
    let indent = p.lines[p.pos].indent;
    let v = p.block(indent)?;
    p.skip_blank();
    (p.pos >= p.lines.len()).then_some(v)
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

fn is_blank(text: &str) -> bool {
    text.is_empty() || text.starts_with('#')
}

impl<'a> Parser<'a> {
    fn skip_blank(&mut self) {
        while self.pos < self.lines.len() && is_blank(self.lines[self.pos].text) {
            self.pos += 1;
        }
    }

    /// A block node whose first line is at `indent`.
    fn block(&mut self, indent: usize) -> Option<Node<'a>> {
        self.skip_blank();
        let line = self.lines.get(self.pos)?;
        if line.indent != indent {
            return None;
        }
        if line.text == "-" || line.text.starts_with("- ") {
            self.sequence(indent)
        } else {
            self.mapping(indent)
        }
    }

    fn sequence(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            let Some(line) = self.lines.get(self.pos) else {
                break;
            };
            if line.indent < indent {
                break;
            }
            if line.indent > indent || !(line.text == "-" || line.text.starts_with("- ")) {
                if line.indent == indent {
                    break; // a mapping key at the same indent ends a `key:\n- item` list
                }
                return None;
            }
            let text: &'a str = line.text;
            let rest = text[1..].trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.pos += 1;
                self.skip_blank();
                let child = self.lines.get(self.pos)?.indent;
                if child <= indent {
                    items.push(Node::Null);
                    continue;
                }
                items.push(self.block(child)?);
                continue;
            }
            // `- key: value` starts a mapping whose keys are at the column of `key`.
            let column = indent + (text.len() - rest.len());
            if rest.starts_with("- ") || rest == "-" {
                return None; // nested inline sequences
            }
            if split_key(rest).is_some() {
                // Re-read the rest of this line as the first line of a mapping at `column`.
                self.lines[self.pos] = Line {
                    indent: column,
                    text: rest,
                };
                items.push(self.mapping(column)?);
            } else {
                self.pos += 1;
                items.push(self.scalar_or_block(rest, indent)?);
            }
        }
        Some(Node::Seq(items))
    }

    fn mapping(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut entries: Vec<(Cow<'a, str>, Node<'a>)> = Vec::with_capacity(4);
        loop {
            self.skip_blank();
            let Some(line) = self.lines.get(self.pos) else {
                break;
            };
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return None;
            }
            if line.text == "-" || line.text.starts_with("- ") {
                return None;
            }
            let text: &'a str = line.text;
            let (key, rest) = split_key(text)?;
            let key = key_text(key)?;
            // Duplicate keys are left to the full parser.
            if entries.iter().any(|(k, _)| *k == key) {
                return None;
            }
            self.pos += 1;
            let rest = strip_comment(rest)?;
            let value = if rest.is_empty() {
                self.skip_blank();
                match self.lines.get(self.pos) {
                    Some(next) if next.indent > indent => self.block(next.indent)?,
                    // `key:` followed by `- item` at the same indent.
                    Some(next)
                        if next.indent == indent
                            && (next.text == "-" || next.text.starts_with("- ")) =>
                    {
                        self.sequence(indent)?
                    }
                    _ => Node::Null,
                }
            } else {
                self.scalar_or_block(rest, indent)?
            };
            entries.push((key, value));
        }
        Some(Node::Map(entries))
    }

    /// A value written after `key: ` or `- `: a scalar, or a literal block.
    fn scalar_or_block(&mut self, text: &'a str, parent: usize) -> Option<Node<'a>> {
        let text = strip_comment(text)?;
        match text {
            "|" | "|-" => self
                .literal(parent, text == "|")
                .map(|s| Node::Str(Cow::Owned(s))),
            _ => scalar(text),
        }
    }

    /// The lines of a `|` block: every following line indented more than `parent` (blank
    /// lines included), with the block's indentation removed.
    fn literal(&mut self, parent: usize, keep_final_newline: bool) -> Option<String> {
        let start = self.pos;
        let mut block_indent = None;
        let mut end = start;
        while end < self.lines.len() {
            let l = &self.lines[end];
            if l.text.is_empty() {
                end += 1;
                continue;
            }
            if l.indent <= parent {
                break;
            }
            match block_indent {
                None => block_indent = Some(l.indent),
                Some(b) if l.indent < b => return None,
                _ => {}
            }
            end += 1;
        }
        let block_indent = block_indent?;
        // Trailing blank lines are not part of a clipped or stripped block.
        let mut last = end;
        while last > start && self.lines[last - 1].text.is_empty() {
            last -= 1;
        }
        let mut out = String::new();
        for l in &self.lines[start..last] {
            if !l.text.is_empty() {
                out.extend(std::iter::repeat_n(' ', l.indent - block_indent));
                out.push_str(l.text);
            } else if l.indent > block_indent {
                // A whitespace-only line longer than the indentation keeps its spaces.
                return None;
            }
            out.push('\n');
        }
        self.pos = end;
        if !keep_final_newline {
            out.pop();
        }
        Some(out)
    }
}

/// Splits `key: rest` (or `key:` at end of line). `None` when the line is not a mapping entry.
fn split_key(text: &str) -> Option<(&str, &str)> {
    if let Some(q) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = quoted_end(text, q)?;
        let after = &text[end..];
        let rest = after.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        return Some((&text[..end], rest.trim_start_matches(' ')));
    }
    let i = find_pair(text, b':', b' ').or_else(|| text.ends_with(':').then(|| text.len() - 1))?;
    let key = &text[..i];
    if key.is_empty()
        || find_pair(key, b' ', b'#').is_some()
        || key.starts_with(['#', '{', '[', '&', '*', '!', '?', '|', '>', '%', '@', '`'])
    {
        return None;
    }
    Some((key, text[i + 1..].trim_start_matches(' ')))
}

/// Byte index just past the closing quote of a quoted scalar starting at 0.
fn quoted_end(text: &str, q: char) -> Option<usize> {
    let bytes = text.as_bytes();
    if q == '"' {
        // Tojson writes long double-quoted strings (scripts): jump from escape to escape.
        let mut i = 1;
        loop {
            let at = i + memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
            if bytes[at] == b'"' {
                return Some(at + 1);
            }
            i = at + 2;
        }
    }
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        if q == '"' && b == b'\\' {
            i += 2;
            continue;
        }
        if b == q as u8 {
            if q == '\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn key_text(key: &str) -> Option<Cow<'_, str>> {
    // Most keys are words like `apiVersion` or `app.kubernetes.io/name`: a plain string, unless
    // a YAML 1.1 word (`yes`, `on`, ...) or `inf`/`nan`, which `plain` decides.
    let bytes = key.as_bytes();
    let special = |w: &[u8]| {
        bytes
            .get(..w.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(w))
    };
    if bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && (bytes.len() > 5 || !YAML11_WORDS.iter().any(|w| w.eq_ignore_ascii_case(key)))
        && !special(b"inf")
        && !special(b"nan")
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-' | b'_'))
    {
        return Some(Cow::Borrowed(key));
    }
    match scalar(key)? {
        Node::Str(s) => Some(s),
        _ if key.starts_with(['"', '\'']) => None,
        // Plain keys that would resolve to numbers or booleans: leave them to the full parser.
        _ => None,
    }
}

/// Removes a trailing ` # comment` outside quotes. `None` if unsure.
fn strip_comment(text: &str) -> Option<&str> {
    let text = text.trim_end_matches(' ');
    if let Some(q) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = quoted_end(text, q)?;
        let after = text[end..].trim_start_matches(' ');
        return if after.is_empty() {
            Some(text)
        } else if after.starts_with('#') {
            Some(&text[..end])
        } else {
            None
        };
    }
    match find_pair(text, b' ', b'#') {
        Some(i) => Some(text[..i].trim_end_matches(' ')),
        None => Some(text),
    }
}

/// A scalar on one line: quoted, `{}`, `[]`, or plain with an obvious type.
fn scalar(text: &str) -> Option<Node<'_>> {
    let first = text.chars().next()?;
    match first {
        '"' => {
            if quoted_end(text, '"')? != text.len() {
                return None;
            }
            double_quoted(&text[1..text.len() - 1]).map(Node::Str)
        }
        '\'' => {
            if quoted_end(text, '\'')? != text.len() {
                return None;
            }
            let inner = &text[1..text.len() - 1];
            Some(Node::Str(if inner.contains("''") {
                Cow::Owned(inner.replace("''", "'"))
            } else {
                Cow::Borrowed(inner)
            }))
        }
        '{' if text == "{}" => Some(Node::Map(Vec::new())),
        '[' if text == "[]" => Some(Node::Seq(Vec::new())),
        '{' | '[' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '#' | ',' | ']' | '}' => None,
        _ => plain(text),
    }
}

/// Byte index of the first `a` immediately followed by `b` (both ASCII).
///
/// For the short lines of rendered YAML a plain byte scan beats the general substring search.
fn find_pair(text: &str, a: u8, b: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == a && bytes[i + 1] == b {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Words whose meaning (boolean, null, string) depends on the YAML version and spelling.
const YAML11_WORDS: [&str; 9] = ["true", "false", "null", "yes", "no", "on", "off", "y", "n"];

fn plain(text: &str) -> Option<Node<'_>> {
    if text.ends_with(':')
        || find_pair(text, b':', b' ').is_some()
        || find_pair(text, b' ', b'#').is_some()
    {
        return None;
    }
    if text.starts_with("- ") || text == "-" || text.starts_with("? ") {
        return None;
    }
    match text {
        "true" => return Some(Node::Bool(true)),
        "false" => return Some(Node::Bool(false)),
        "null" | "~" => return Some(Node::Null),
        _ => {}
    }
    // Case variants and YAML 1.1 words: let the full parser decide.
    if text.len() <= 5 && YAML11_WORDS.iter().any(|w| w.eq_ignore_ascii_case(text)) {
        return None;
    }
    let bytes = text.as_bytes();
    let numeric_start =
        bytes[0].is_ascii_digit() || (matches!(bytes[0], b'-' | b'+' | b'.') && bytes.len() > 1);
    if numeric_start {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
        {
            return text.parse::<i64>().ok().map(|n| Node::Num(Number::from(n)));
        }
        // Floats, octal, hex, binary and other numeric spellings: the full parser decides.
        let cleaned: std::borrow::Cow<'_, str> = if digits.contains('_') {
            digits.replace('_', "").into()
        } else {
            digits.into()
        };
        let prefixed = ["0x", "0o", "0b", "0X", "0O", "0B"]
            .iter()
            .any(|p| cleaned.starts_with(p));
        if prefixed || cleaned.parse::<f64>().is_ok() || text.parse::<f64>().is_ok() {
            return None;
        }
    }
    let unsigned = text.trim_start_matches(['-', '+', '.']).as_bytes().get(..3);
    if unsigned.is_some_and(|w| w.eq_ignore_ascii_case(b"inf") || w.eq_ignore_ascii_case(b"nan")) {
        return None;
    }
    Some(Node::Str(Cow::Borrowed(text)))
}

fn double_quoted(inner: &str) -> Option<Cow<'_, str>> {
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    loop {
        // Copy the run up to the next escape whole.
        let rest = chars.as_str();
        let run = memchr::memchr(b'\\', rest.as_bytes()).unwrap_or(rest.len());
        out.push_str(&rest[..run]);
        chars = rest[run..].chars();
        if chars.next().is_none() {
            break;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            '0' => out.push('\0'),
            'u' => {
                let rest = chars.as_str();
                let hex = rest
                    .get(..4)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
                let code = u32::from_str_radix(hex, 16).ok()?;
                out.push(char::from_u32(code)?);
                chars = rest[4..].chars();
            }
            _ => return None,
        }
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_full_parser(text: &str) {
        let full: Value = serde_norway::from_str(text).expect("valid YAML");
        // `None` means it fell back, which is fine: the full parser is used then.
        if let Some(fast) = parse_fast(text) {
            assert_eq!(fast, full, "fast parser differs on:\n{text}");
        }
    }

    #[test]
    fn handles_the_common_subset_exactly() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    app.kubernetes.io/name: kwdb\n    \"quoted/key\": 'it''s'\ndata: {}\nlist:\n- a\n- 1\n- true\n- name: c\n  port: 26257\n  protocol: TCP\n-\n  nested: yes-ish\nempty: []\nscript: |\n  set -e\n\n  echo \"hi\"   # not a comment\nstripped: |-\n  one\n  two\nnull_value:\nversion: 3.1.0\nquantity: 500m\ntilde: ~\n";
        let fast = parse_fast(text).expect("subset");
        let full: Value = serde_norway::from_str(text).unwrap();
        assert_eq!(fast, full);
    }

    #[test]
    fn falls_back_on_what_it_does_not_handle() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: {b: 1}\n",
            "a: [1, 2]\n",
            "a: >\n  folded\n",
            "a: 0x1F\n",
            "a: 1.5\n",
            "a: Yes\n",
            "a: 1\na: 2\n",
            "a:\n\tb: 1\n",
            "a: \"multi\n  line\"\n",
            "a: \"\\u12\"\n",
        ] {
            assert!(parse_fast(text).is_none(), "should fall back on {text:?}");
        }
    }

    #[test]
    fn agrees_with_the_full_parser_on_tricky_scalars() {
        for text in [
            "a: 007\n",
            "a: -5\n",
            "a: +5\n",
            "a: 1e3\n",
            "a: .inf\n",
            "a: 10Gi\n",
            "a: \"\\u00e9\\n\"\n",
            "a: 'x' # c\n",
            "a: x # c\n",
            "- - 1\n",
            "a:\n- 1\n- 2\nb: 3\n",
            "a:\n  - 1\n  - 2\n",
            "key with spaces: v\n",
            "a: b:c\n",
            "a: http://x.y/z\n",
            "info: 1\ninflate: 2\nnanny: 3\n",
            "Yes: 1\n",
            "on: 1\n",
            "y: 1\nN: 2\n",
            "name: 1\nkind: 2\napp.kubernetes.io/name-x_y: 3\n",
            "a: \"x\\u0027y\\u003c\\\\z\\\"q\\n\"\n",
            "a: \"x\\\\\"\n",
        ] {
            same_as_full_parser(text);
        }
    }
}
