//! Parsing one TOML file into a typed value, reporting every structural problem at once.
//!
//! 1. The file is parsed into a tree that keeps the span of every key and value.
//! 2. The tree becomes JSON. A [`SpanIndex`] from key paths (`members[2].role`) to spans is
//!    built from the text when a diagnostic first asks for one (most files never need it).
//! 3. The JSON is checked against the JSON Schema generated from the Rust type, collecting
//!    every unknown key, wrong type, missing key and bad enum value.
//! 4. Only a structurally valid file is deserialized into its type.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use toml::de::{DeTable, DeValue};

use crate::diag::{did_you_mean, Diagnostic};
use crate::source::SourceFile;

/// Spans of one key and its value.
#[derive(Debug, Clone)]
pub struct Spans {
    /// The key (`replicas` in `replicas = 3`); none for array elements and the root.
    pub key: Option<Range<usize>>,
    /// The value.
    pub value: Range<usize>,
}

/// Key path -> spans, for pointing diagnostics at the right place.
///
/// Built on first use by parsing the file's text again: only files with diagnostics need
/// spans, and a map with a String per key path for every file is costly.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    text: Arc<str>,
    map: OnceLock<HashMap<String, Spans>>,
}

impl SpanIndex {
    /// The index of a file's text (valid TOML; built lazily).
    pub fn of(text: Arc<str>) -> SpanIndex {
        SpanIndex {
            text,
            map: OnceLock::new(),
        }
    }

    fn map(&self) -> &HashMap<String, Spans> {
        self.map.get_or_init(|| {
            let mut map = HashMap::new();
            if let Ok(table) = DeTable::parse(&self.text) {
                map.insert(
                    String::new(),
                    Spans {
                        key: None,
                        value: table.span(),
                    },
                );
                table_spans(table.get_ref(), "", &mut map);
            }
            map
        })
    }

    /// Spans of a path (`database.replicas`, `members[0].role`); `""` is the whole file.
    pub fn get(&self, path: &str) -> Option<&Spans> {
        self.map().get(path)
    }

    /// The span of the value at `path`, or of the closest ancestor that exists.
    pub fn value(&self, path: &str) -> Option<Range<usize>> {
        self.lookup(path).map(|s| s.value.clone())
    }

    /// The span of the key at `path`, else its value, else the closest ancestor.
    pub fn key(&self, path: &str) -> Option<Range<usize>> {
        self.lookup(path)
            .map(|s| s.key.clone().unwrap_or_else(|| s.value.clone()))
    }

    fn lookup(&self, path: &str) -> Option<&Spans> {
        let mut p = path;
        loop {
            if p.is_empty() {
                return None;
            }
            if let Some(s) = self.map().get(p) {
                return Some(s);
            }
            p = parent(p);
        }
    }
}

fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Joins a key path and a key, quoting keys that are not bare TOML keys.
pub fn child(path: &str, key: &str) -> String {
    let mut out = String::with_capacity(path.len() + key.len() + 1);
    push_child(&mut out, path, key);
    out
}

/// Appends [`child`]`(path, key)` to `out`.
fn push_child(out: &mut String, path: &str, key: &str) {
    use std::fmt::Write as _;
    out.push_str(path);
    if !path.is_empty() {
        out.push('.');
    }
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    if bare {
        out.push_str(key);
    } else {
        let _ = write!(out, "{key:?}");
    }
}

/// Joins a key path and an array index.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A file parsed into its type, with the spans of its keys.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// The file.
    pub file: SourceFile,
    /// Its value.
    pub value: T,
    /// Where each key is.
    pub spans: SpanIndex,
}

/// What kind of file is being read, for messages.
#[derive(Debug, Clone, Copy)]
pub enum FileKind {
    /// platform.toml
    Platform,
    /// `tenants/<name>.toml`
    Tenant,
    /// `backups/<name>.toml`
    Backups,
}

impl FileKind {
    fn describe(self) -> &'static str {
        match self {
            FileKind::Platform => "a platform file",
            FileKind::Tenant => "a tenant file",
            FileKind::Backups => "a backups file",
        }
    }
}

/// Parses and checks one file. Returns the typed value when the file is structurally valid;
/// every problem found goes to `diags`.
pub fn load<T: DeserializeOwned + JsonSchema + 'static>(
    file: &SourceFile,
    kind: FileKind,
    diags: &mut Vec<Diagnostic>,
) -> Option<Loaded<T>> {
    let path = file.path.as_str();
    if file.text.trim().is_empty() {
        diags.push(
            Diagnostic::error(format!("`{path}` is empty"))
                .at(path, None, "")
                .help(match kind {
                    FileKind::Platform => "platform.toml needs at least [platform], [tiers.<name>] and [database]; see examples/platform.toml",
                    FileKind::Tenant => "a tenant file needs at least `name` and `tier`; delete the file to remove the tenant",
                    FileKind::Backups => "a backups file needs at least `tenant`; delete the file if the tenant has no backups",
                }),
        );
        return None;
    }
    let table = match DeTable::parse(&file.text) {
        Ok(t) => t,
        Err(e) => {
            diags.push(syntax_error(path, &file.text, &e));
            return None;
        }
    };
    let spans = SpanIndex::of(file.text.clone());
    let mut json = table_to_json(table.get_ref());
    let schema = schema_of::<T>();
    let mut checker = Checker {
        root: schema,
        file: path,
        spans: &spans,
        diags: Vec::new(),
        kind,
        bad_roots: Default::default(),
    };
    checker.check(schema, &mut json, "");
    let structural_errors = !checker.diags.is_empty();
    let bad_roots: Vec<String> = checker.bad_roots.iter().cloned().collect();
    diags.extend(checker.diags);
    if structural_errors {
        // Bad values were replaced by nulls. If the rest still makes a value, carry on so
        // that semantic problems are reported in the same run; the errors above already
        // keep this repository from producing a configuration.
        strip_nulls(&mut json);
        let value = match serde_json::from_value::<T>(json.clone()) {
            Ok(v) if !contains_null(&json) => Some(v),
            _ => {
                // Drop whole top-level entries that had errors (a list with a bad element)
                // and try again: the remaining keys keep their paths, so spans stay right.
                if let Value::Object(map) = &mut json {
                    map.retain(|k, v| !bad_roots.contains(k) || !contains_null(v));
                    for root in &bad_roots {
                        if map.get(root).is_some_and(|v| v.is_array() || v.is_object()) {
                            map.remove(root);
                        }
                    }
                }
                serde_json::from_value::<T>(json).ok()
            }
        };
        return value.map(|value| Loaded {
            file: file.clone(),
            value,
            spans,
        });
    }
    match serde_json::from_value::<T>(json) {
        Ok(value) => Some(Loaded {
            file: file.clone(),
            value,
            spans,
        }),
        Err(e) => {
            diags.push(
                Diagnostic::error(format!("`{path}` is not {}: {e}", kind.describe()))
                    .at(path, None, ""),
            );
            None
        }
    }
}

/// The JSON Schema of `T`, generated once per type and kept for the life of the process.
fn schema_of<T: JsonSchema + 'static>() -> &'static Value {
    use std::any::TypeId;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<TypeId, &'static Value>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(TypeId::of::<T>()).or_insert_with(|| {
        let schema = schemars::schema_for!(T);
        Box::leak(Box::new(schema.as_value().clone()))
    })
}

/// Removes object entries whose value is null (they were invalid).
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn contains_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(map) => map.values().any(contains_null),
        Value::Array(items) => items.iter().any(contains_null),
        _ => false,
    }
}

fn syntax_error(path: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim_end_matches('.').to_string();
    let span = e.span().unwrap_or(0..0);
    let help = syntax_help(&message, text, &span);
    Diagnostic::error(format!("invalid TOML: {message}"))
        .at(path, Some(span), "")
        .maybe_help(help)
}

fn syntax_help(message: &str, text: &str, span: &Range<usize>) -> Option<String> {
    let at = text.get(span.start..).unwrap_or("");
    if message.contains("duplicate key") {
        return Some("each key may appear once per table; remove or rename one of them".into());
    }
    if message.contains("invalid string")
        || message.contains("expected") && at.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Some("strings are written in double quotes: `key = \"value\"`".into());
    }
    if message.contains("unclosed") || message.contains("missing") && message.contains('"') {
        return Some("close the string with a matching quote on the same line".into());
    }
    None
}

/// Records the spans of every key and array element under `path`.
fn table_spans(table: &DeTable<'_>, path: &str, spans: &mut HashMap<String, Spans>) {
    for (k, v) in table.iter() {
        let p = child(path, k.get_ref());
        spans.insert(
            p.clone(),
            Spans {
                key: Some(k.span()),
                value: v.span(),
            },
        );
        value_spans(v.get_ref(), &p, spans);
    }
}

fn value_spans(v: &DeValue<'_>, path: &str, spans: &mut HashMap<String, Spans>) {
    match v {
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = index(path, i);
                spans.insert(
                    p.clone(),
                    Spans {
                        key: None,
                        value: item.span(),
                    },
                );
                value_spans(item.get_ref(), &p, spans);
            }
        }
        DeValue::Table(t) => table_spans(t, path, spans),
        _ => {}
    }
}

fn table_to_json(table: &DeTable<'_>) -> Value {
    let mut map = Map::with_capacity(table.len());
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        map.insert(key.to_string(), value_to_json(v.get_ref()));
    }
    Value::Object(map)
}

fn value_to_json(v: &DeValue<'_>) -> Value {
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => Value::from(n),
                Err(_) => match u64::from_str_radix(&digits, i.radix()) {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::String(i.to_string()),
                },
            }
        }
        DeValue::Float(f) => {
            let n: f64 = f.as_str().replace('_', "").parse().unwrap_or(f64::NAN);
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.as_str().to_string()))
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|i| value_to_json(i.get_ref())).collect())
        }
        DeValue::Table(t) => table_to_json(t),
    }
}

/// Keys that hold secrets. They never belong in the config repository.
const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "access_key_id",
    "secret_key",
    "secret_access_key",
    "private_key",
    "credentials",
    "aws_access_key_id",
    "aws_secret_access_key",
];

/// Whether a key name looks like it holds a credential.
pub fn is_credential_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    CREDENTIAL_KEYS.contains(&k.as_str())
}

struct Checker<'a> {
    root: &'a Value,
    file: &'a str,
    spans: &'a SpanIndex,
    diags: Vec<Diagnostic>,
    kind: FileKind,
    /// First path segments of the nodes with errors.
    bad_roots: std::collections::BTreeSet<String>,
}

impl<'a> Checker<'a> {
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let mut s = schema;
        for _ in 0..16 {
            let Some(r) = s.get("$ref").and_then(Value::as_str) else {
                return s;
            };
            let Some(name) = r.strip_prefix("#/$defs/") else {
                return s;
            };
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(def) => s = def,
                None => return s,
            }
        }
        s
    }

    fn check(&mut self, schema: &'a Value, value: &mut Value, path: &str) {
        let before = self.diags.len();
        self.check_inner(schema, value, path);
        // A node with its own error (not one inside it) is dropped from the value.
        if self.diags.len() > before {
            let root = path.split(['.', '[']).next().unwrap_or(path);
            self.bad_roots.insert(root.to_string());
            if !matches!(value, Value::Object(_) | Value::Array(_)) {
                *value = Value::Null;
            }
        }
    }

    fn check_inner(&mut self, schema: &'a Value, value: &mut Value, path: &str) {
        let schema = self.resolve(schema);
        if schema.as_bool() == Some(true) {
            return;
        }
        // Unions: Option<T> is `anyOf [T, null]`; documented enums are `oneOf [const...]`.
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = schema.get(key).and_then(Value::as_array) {
                let alts: Vec<&Value> = alts
                    .iter()
                    .map(|a| self.resolve(a))
                    .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                    .collect();
                let consts: Option<Vec<&str>> = alts
                    .iter()
                    .map(|a| {
                        a.get("const")
                            .and_then(Value::as_str)
                            .or_else(|| single_enum(a))
                    })
                    .collect();
                if let Some(consts) = consts {
                    self.check_enum(&consts, value, path);
                    return;
                }
                if alts.len() == 1 {
                    self.check(alts[0], value, path);
                    return;
                }
                // Several structural alternatives: accept the first that fits.
                for alt in &alts {
                    // Only whether the probe finds problems matters, not where they are:
                    // no spans, so that a failed probe does not build the file's index.
                    static NO_SPANS: std::sync::LazyLock<SpanIndex> =
                        std::sync::LazyLock::new(SpanIndex::default);
                    let mut probe = Checker {
                        root: self.root,
                        file: self.file,
                        spans: &NO_SPANS,
                        diags: Vec::new(),
                        kind: self.kind,
                        bad_roots: Default::default(),
                    };
                    let mut copy = value.clone();
                    probe.check(alt, &mut copy, path);
                    if probe.diags.is_empty() {
                        return;
                    }
                }
                if let Some(first) = alts.first() {
                    self.check(first, value, path);
                }
                return;
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let consts: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            self.check_enum(&consts, value, path);
            return;
        }
        let types = schema_types(schema);
        if !types.is_empty() && !types.iter().any(|t| matches_type(t, value)) {
            self.type_error(&types, value, path);
            *value = Value::Null;
            return;
        }
        match value {
            Value::Object(map) => self.check_object(schema, map, path),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.check(item_schema, item, &index(path, i));
                    }
                }
            }
            Value::Number(n) => self.check_range(schema, n, path),
            Value::String(s) => self.check_pattern(schema, s, path),
            _ => {}
        }
    }

    fn check_object(&mut self, schema: &'a Value, map: &mut Map<String, Value>, path: &str) {
        let props = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let mut unknown = Vec::new();
        // One buffer for the paths of all the keys.
        let mut p = String::with_capacity(path.len() + 32);
        for (key, value) in map.iter_mut() {
            p.clear();
            push_child(&mut p, path, key);
            if let Some(prop) = props.and_then(|props| props.get(key)) {
                self.check(prop, value, &p);
                continue;
            }
            match additional {
                Some(Value::Bool(false)) => {
                    self.unknown_key(key, props, path, &p);
                    unknown.push(key.clone());
                }
                Some(extra) if extra.is_object() => self.check(extra, value, &p),
                _ => {}
            }
        }
        for key in unknown {
            map.remove(&key);
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    self.missing_key(key, props, path);
                }
            }
        }
    }

    fn unknown_key(
        &mut self,
        key: &str,
        props: Option<&'a Map<String, Value>>,
        table: &str,
        path: &str,
    ) {
        let span = self.spans.key(path);
        let known: Vec<&str> = props
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if is_credential_key(key) {
            self.diags.push(
                Diagnostic::error(format!(
                    "`{path}` looks like a credential: secrets never belong in the config repository"
                ))
                .at(self.file, span, "credential written inline")
                .help(if known.contains(&"credentials_secret") {
                    "store it in a Kubernetes Secret and name that Secret here: `credentials_secret = \"<secret-name>\"`".to_string()
                } else {
                    "store it in a Kubernetes Secret and refer to the Secret by name".to_string()
                }),
            );
            return;
        }
        let within = if table.is_empty() {
            format!("in {}", self.kind.describe())
        } else {
            format!("in `{}`", table_display(table))
        };
        let d = Diagnostic::error(format!("unknown key `{key}` {within}")).at(
            self.file,
            span,
            "unknown key",
        );
        let help = match did_you_mean(key, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => "remove this key".to_string(),
            None => format!("expected one of {}", list(&known)),
        };
        self.diags.push(d.help(help));
    }

    fn missing_key(&mut self, key: &str, props: Option<&Map<String, Value>>, table: &str) {
        let (message, span, label) = if table.is_empty() {
            (format!("missing required key `{key}`"), None, String::new())
        } else {
            (
                format!("missing required key `{key}` in `{}`", table_display(table)),
                self.spans.key(table),
                format!("`{key}` is required here"),
            )
        };
        let description = props
            .and_then(|p| p.get(key))
            .map(|s| self.resolve(s))
            .and_then(|s| s.get("description"))
            .and_then(Value::as_str)
            .map(first_sentence);
        let help = match description {
            Some(d) => format!("add `{key} = ...`: {d}"),
            None => format!("add `{key} = ...`"),
        };
        self.diags.push(
            Diagnostic::error(message)
                .at(self.file, span, label)
                .help(help),
        );
    }

    fn check_enum(&mut self, allowed: &[&str], value: &Value, path: &str) {
        if value.as_str().is_some_and(|s| allowed.contains(&s)) {
            return; // spans are only looked up for diagnostics: building them is costly
        }
        let span = self.spans.value(path);
        match value.as_str() {
            Some(s) if allowed.contains(&s) => {}
            Some(s) => {
                let help = match did_you_mean(s, allowed.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("use one of {}", list(allowed)),
                };
                self.diags.push(
                    Diagnostic::error(format!(
                        "invalid value `{s}` for `{path}`: expected one of {}",
                        list(allowed)
                    ))
                    .at(self.file, span, "not a valid value")
                    .help(help),
                );
            }
            None => self.diags.push(
                Diagnostic::error(format!(
                    "`{path}` must be one of {}, found {}",
                    list(allowed),
                    describe(value)
                ))
                .at(self.file, span, "wrong type")
                .help(format!(
                    "write it as a string, e.g. `{} = \"{}\"`",
                    last_key(path),
                    allowed.first().copied().unwrap_or("")
                )),
            ),
        }
    }

    fn type_error(&mut self, types: &[&str], value: &Value, path: &str) {
        let expected = expected_text(types);
        let span = self.spans.value(path);
        let help = match (value, types) {
            (Value::String(s), t)
                if (t.contains(&"integer") || t.contains(&"number"))
                    && s.trim().parse::<f64>().is_ok() =>
            {
                Some(format!(
                    "remove the quotes: `{} = {}`",
                    last_key(path),
                    s.trim()
                ))
            }
            (Value::Number(n), t) if t.contains(&"string") => Some(format!(
                "put the value in quotes: `{} = \"{n}\"`",
                last_key(path)
            )),
            (Value::String(s), t) if t.contains(&"boolean") && (s == "true" || s == "false") => {
                Some(format!("remove the quotes: `{} = {s}`", last_key(path)))
            }
            (Value::Object(_), t) if t.contains(&"array") => Some(format!(
                "use `[[{}]]` (double brackets) to add an element to the list",
                path
            )),
            (Value::Array(_), t) if t.contains(&"object") => Some(format!(
                "use `[{path}]` (single brackets): it is a table, not a list"
            )),
            _ => None,
        };
        self.diags.push(
            Diagnostic::error(format!(
                "`{path}` must be {expected}, found {}",
                describe(value)
            ))
            .at(self.file, span, format!("expected {expected}"))
            .maybe_help(help),
        );
    }

    fn check_range(&mut self, schema: &Value, n: &serde_json::Number, path: &str) {
        let Some(x) = n.as_f64() else { return };
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if x < min {
                self.diags.push(
                    Diagnostic::error(format!("`{path}` must be at least {min}, found {n}")).at(
                        self.file,
                        self.spans.value(path),
                        "too small",
                    ),
                );
                return;
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if x > max {
                self.diags.push(
                    Diagnostic::error(format!("`{path}` must be at most {max}, found {n}")).at(
                        self.file,
                        self.spans.value(path),
                        "too large",
                    ),
                );
            }
        }
    }

    fn check_pattern(&mut self, _schema: &Value, _s: &str, _path: &str) {
        // Patterns (quantities, names) are checked with better messages by `validate`.
    }
}

fn single_enum(schema: &Value) -> Option<&str> {
    match schema.get("enum").and_then(Value::as_array) {
        Some(v) if v.len() == 1 => v[0].as_str(),
        _ => None,
    }
}

fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn matches_type(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn expected_text(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            "array" => "a list",
            "object" => "a table",
            other => other,
        })
        .collect();
    match words.as_slice() {
        [] => "a value".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Number(n) if n.is_f64() => format!("the number {n}"),
        Value::Number(n) => format!("the integer {n}"),
        Value::Bool(b) => format!("{b}"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a table".to_string(),
        Value::Null => "nothing".to_string(),
    }
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn last_key(path: &str) -> &str {
    let p = path.rsplit('.').next().unwrap_or(path);
    p.split('[').next().unwrap_or(p)
}

fn table_display(path: &str) -> String {
    path.to_string()
}

fn first_sentence(s: &str) -> String {
    let s = s.split("\n\n").next().unwrap_or(s).replace('\n', " ");
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let prev = s[..i].chars().last();
        if c == '.'
            && next == Some(' ')
            && prev != Some('.')
            && prev.is_some_and(|p| p.is_alphanumeric() || p == ')')
        {
            return s[..i].to_string();
        }
    }
    s.trim_end_matches('.').to_string()
}
