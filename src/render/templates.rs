//! The built-in manifest templates and a platform's overrides, compiled once.

use std::collections::BTreeMap;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::RenderError;

/// What a template is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Once per tenant (context: `tenant`, `platform`).
    Tenant,
    /// Once per backup schedule (context adds `schedule`).
    Schedule,
    /// Once per restore request (context adds `restore`).
    Restore,
}

/// The built-in templates, in rendering order: file name, text, scope.
pub const BUILTIN: &[(&str, &str, Scope)] = &[
    (
        "namespace.yaml",
        include_str!("templates/namespace.yaml"),
        Scope::Tenant,
    ),
    (
        "resourcequota.yaml",
        include_str!("templates/resourcequota.yaml"),
        Scope::Tenant,
    ),
    (
        "limitrange.yaml",
        include_str!("templates/limitrange.yaml"),
        Scope::Tenant,
    ),
    (
        "networkpolicy.yaml",
        include_str!("templates/networkpolicy.yaml"),
        Scope::Tenant,
    ),
    (
        "rolebindings.yaml",
        include_str!("templates/rolebindings.yaml"),
        Scope::Tenant,
    ),
    (
        "serviceaccount.yaml",
        include_str!("templates/serviceaccount.yaml"),
        Scope::Tenant,
    ),
    (
        "services.yaml",
        include_str!("templates/services.yaml"),
        Scope::Tenant,
    ),
    (
        "statefulset.yaml",
        include_str!("templates/statefulset.yaml"),
        Scope::Tenant,
    ),
    (
        "pdb.yaml",
        include_str!("templates/pdb.yaml"),
        Scope::Tenant,
    ),
    (
        "backup-cronjob.yaml",
        include_str!("templates/backup-cronjob.yaml"),
        Scope::Schedule,
    ),
    (
        "restore-job.yaml",
        include_str!("templates/restore-job.yaml"),
        Scope::Restore,
    ),
];

/// The names of the built-in templates.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _, _)| *name)
}

/// One template of a [`TemplateSet`].
#[derive(Debug, Clone)]
pub struct TemplateInfo {
    /// File name (`statefulset.yaml`), also its name in the environment.
    pub name: &'static str,
    /// What it is rendered for.
    pub scope: Scope,
    /// Whether the platform overrides the built-in text.
    pub overridden: bool,
}

impl TemplateInfo {
    /// How errors name the template: `templates/x.yaml` for an override, `built-in x.yaml`
    /// otherwise.
    pub fn display_name(&self) -> String {
        display_name(self.name, self.overridden)
    }
}

pub(crate) fn display_name(name: &str, overridden: bool) -> String {
    if overridden {
        format!("templates/{name}")
    } else {
        format!("built-in {name}")
    }
}

/// The built-in templates with a platform's overrides applied, compiled once.
///
/// Templates are minijinja, without auto-escaping (use `| tojson` to emit a value as a safe
/// YAML scalar), with strict undefined handling: a misspelt variable is an error, not an empty
/// string.
pub struct TemplateSet {
    pub(crate) env: Environment<'static>,
    pub(crate) infos: Vec<TemplateInfo>,
    /// SHA-256 of berth's version and every template's name and text, for
    /// [`crate::render::input_digests`].
    pub(crate) fingerprint: [u8; 32],
}

impl std::fmt::Debug for TemplateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateSet")
            .field("templates", &self.infos)
            .finish()
    }
}

impl TemplateSet {
    /// The built-in templates only.
    pub fn builtin() -> TemplateSet {
        TemplateSet::new(&BTreeMap::new()).expect("built-in templates compile")
    }

    /// The built-in templates, each replaced by the override of the same file name (the key
    /// is the file name under the repo's `templates/` directory, the value its text).
    ///
    /// Every problem is reported: overrides that match no built-in template and syntax errors
    /// (with template and line).
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<TemplateSet, Vec<RenderError>> {
        let mut errors = Vec::new();
        for name in overrides.keys() {
            if !BUILTIN.iter().any(|(b, _, _)| b == name) {
                let mut err = RenderError::new(format!(
                    "template override `templates/{name}` does not match any built-in template"
                ));
                err.template = Some(format!("templates/{name}"));
                let names: Vec<&str> = builtin_names().collect();
                let suggestion = names
                    .iter()
                    .map(|n| (strsim::jaro_winkler(n, name), n))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, n)| format!("did you mean `{n}`? "))
                    .unwrap_or_default();
                err.help = Some(format!(
                    "{suggestion}built-in templates are: {}",
                    names.join(", ")
                ));
                errors.push(err);
            }
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_filter("tojson", tojson);
        let mut infos = Vec::with_capacity(BUILTIN.len());
        let mut fingerprint = ring::digest::Context::new(&ring::digest::SHA256);
        fingerprint.update(b"berth ");
        fingerprint.update(env!("CARGO_PKG_VERSION").as_bytes());
        for (name, text, scope) in BUILTIN {
            let (source, overridden) = match overrides.get(*name) {
                Some(text) => (text.clone(), true),
                None => ((*text).to_string(), false),
            };
            for part in [name.as_bytes(), source.as_bytes()] {
                fingerprint.update(&(part.len() as u64).to_le_bytes());
                fingerprint.update(part);
            }
            if let Err(e) = env.add_template_owned(*name, source) {
                let mut err = RenderError::new(format!("syntax error: {}", jinja_message(&e)));
                err.template = Some(display_name(name, overridden));
                err.line = e.line();
                errors.push(err);
            }
            infos.push(TemplateInfo {
                name,
                scope: *scope,
                overridden,
            });
        }
        if errors.is_empty() {
            let mut digest = [0u8; 32];
            digest.copy_from_slice(fingerprint.finish().as_ref());
            Ok(TemplateSet {
                env,
                infos,
                fingerprint: digest,
            })
        } else {
            Err(errors)
        }
    }

    /// The templates, in rendering order.
    pub fn templates(&self) -> &[TemplateInfo] {
        &self.infos
    }
}

/// minijinja's `tojson`, with a shortcut for its most frequent use in templates: a string
/// (`{{ tenant.name | tojson }}`) without arguments, written here without going through the
/// general serializer. Same text as the built-in filter: JSON that is also safe in HTML
/// (`<`, `>`, `&` and `'` escaped as `\u00xx`). Everything else goes to the built-in filter.
fn tojson(value: &Value, indent: Option<Value>, args: Kwargs) -> Result<Value, minijinja::Error> {
    if let (ValueKind::String, Some(s), None) = (value.kind(), value.as_str(), &indent) {
        if args.args().next().is_none() {
            return Ok(Value::from_safe_string(json_string(s)));
        }
    }
    minijinja::filters::tojson(value, indent, args)
}

/// A string as minijinja's `tojson` writes it.
fn json_string(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let needs_escape = |b: u8| b < 0x20 || matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&' | b'\'');
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
    out
}

/// The message of a minijinja error without its location (which [`RenderError`] carries).
pub(crate) fn jinja_message(e: &minijinja::Error) -> String {
    let mut msg = match e.detail() {
        Some(detail) => format!("{}: {}", e.kind(), detail),
        None => e.kind().to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        msg.push_str(": ");
        msg.push_str(&inner.to_string());
        source = inner.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use minijinja::value::{Kwargs, Value};

    #[test]
    fn tojson_shortcut_writes_what_the_builtin_filter_writes() {
        let texts = [
            "",
            "plain-name",
            "it's <b>&</b> \"quoted\" \\ back",
            "line\nbreak\ttab\r\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "é ✓ 😀",
        ];
        for text in texts {
            let value = Value::from(text);
            let ours = super::tojson(
                &value,
                None,
                Kwargs::from_iter(std::iter::empty::<(&str, Value)>()),
            )
            .unwrap();
            let builtin = minijinja::filters::tojson(
                &value,
                None,
                Kwargs::from_iter(std::iter::empty::<(&str, Value)>()),
            )
            .unwrap();
            assert_eq!(ours.as_str(), builtin.as_str(), "{text:?}");
            assert!(ours.is_safe());
        }
        // Arguments and other values take the built-in filter.
        let list = Value::from(vec![1, 2]);
        let pretty = super::tojson(
            &list,
            Some(Value::from(true)),
            Kwargs::from_iter(std::iter::empty::<(&str, Value)>()),
        )
        .unwrap();
        assert_eq!(pretty.as_str(), Some("[\n  1,\n  2\n]"));
    }
}
