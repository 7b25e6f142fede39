//! Diagnostics: problems found in a config repository, each tied to a file and a span, and
//! their rendering in the style of a compiler:
//!
//! ```text
//! error: unknown key `replica` in `database`
//!  --> tenants/acme.toml:7:1
//!   |
//! 7 | replica = 3
//!   | ^^^^^^^ unknown key
//!   |
//!   = help: did you mean `replicas`?
//! ```
//!
//! Bad input is data here, not an exception: loaders return `Vec<Diagnostic>` and carry on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The repository is invalid; nothing will be applied.
    Error,
    /// Suspicious but allowed.
    Warning,
}

/// A place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// File, relative to the repository root (`tenants/acme.toml`).
    pub file: String,
    /// Byte range in the file. Empty ranges point between characters.
    pub span: Option<Range<usize>>,
    /// Text printed next to the carets.
    pub text: String,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, one line, no trailing period.
    pub message: String,
    /// Where it is wrong.
    pub primary: Option<Label>,
    /// Other places that matter ("first defined here").
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a message and no location yet.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    /// A warning with a message and no location yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Points the diagnostic at a span of a file.
    pub fn at(mut self, file: &str, span: Option<Range<usize>>, text: impl Into<String>) -> Self {
        self.primary = Some(Label {
            file: file.to_string(),
            span,
            text: text.into(),
        });
        self
    }

    /// Adds a secondary location.
    pub fn also(mut self, file: &str, span: Option<Range<usize>>, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            file: file.to_string(),
            span,
            text: text.into(),
        });
        self
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line if there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The file of the primary label.
    pub fn file(&self) -> Option<&str> {
        self.primary.as_ref().map(|l| l.file.as_str())
    }
}

/// The text of the files diagnostics point into, to print source lines.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: BTreeMap<String, Arc<str>>,
    /// Where the files come from when that is not the working directory: a Git commit
    /// (`https://host/config.git@3f2a9c1`). Printed once above the diagnostics.
    origin: Option<String>,
}

impl SourceMap {
    /// Records where the files come from (a Git commit), to be named once by [`render`].
    pub fn set_origin(&mut self, origin: &str) {
        self.origin = Some(origin.to_string());
    }

    /// Where the files come from, when set.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Registers the text of a file.
    pub fn insert(&mut self, file: &str, text: Arc<str>) {
        self.files.insert(file.to_string(), text);
    }

    /// The text of a file.
    pub fn get(&self, file: &str) -> Option<&str> {
        self.files.get(file).map(|t| &**t)
    }

    /// Consumes the map, giving its files and texts.
    pub fn into_files(self) -> impl Iterator<Item = (String, Arc<str>)> {
        self.files.into_iter()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: &str, offset: usize) -> Option<(usize, usize)> {
        self.get(file).map(|text| line_col(text, offset))
    }
}

/// 1-based line and column (in characters) of a byte offset in a text.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One line per diagnostic, `file:line:col: error: message (help: ...)`, for logs and status
/// APIs where the multi-line form does not fit.
pub fn one_line(d: &Diagnostic, sources: &SourceMap) -> String {
    let severity = if d.is_error() { "error" } else { "warning" };
    let place = match &d.primary {
        Some(Label {
            file,
            span: Some(span),
            ..
        }) => match sources.line_col(file, span.start) {
            Some((line, col)) => format!("{file}:{line}:{col}: "),
            None => format!("{file}: "),
        },
        Some(label) => format!("{}: ", label.file),
        None => String::new(),
    };
    let help = d
        .help
        .as_ref()
        .map(|h| format!(" (help: {h})"))
        .unwrap_or_default();
    format!("{place}{severity}: {}{help}", d.message)
}

/// Renders diagnostics as text. `color` adds ANSI colours.
/// When the files come from a Git commit, a first line names it (`note: files from
/// https://host/config.git@3f2a9c1`); file paths below are relative to that commit's tree.
pub fn render(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut out = String::new();
    if let (Some(origin), false) = (sources.origin(), diags.is_empty()) {
        let style = Style { on: color };
        let _ = writeln!(
            out,
            "{}{}\n",
            style.paint("1;36", "note"),
            style.paint("1", &format!(": files from {origin}"))
        );
    }
    for d in diags {
        render_one(&mut out, d, sources, color);
        out.push('\n');
    }
    out
}

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &SourceMap, color: bool) {
    let style = Style { on: color };
    let (word, code) = match d.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let _ = writeln!(
        out,
        "{}{}",
        style.paint(code, word),
        style.paint("1", &format!(": {}", d.message))
    );
    // Width of the line-number gutter: the widest line number we print.
    let mut width = 1;
    for label in d.primary.iter().chain(&d.secondary) {
        if let (Some(span), Some(text)) = (&label.span, sources.get(&label.file)) {
            width = width.max(line_col(text, span.start).0.to_string().len());
        }
    }
    let mut first = true;
    for (label, primary) in d
        .primary
        .iter()
        .map(|l| (l, true))
        .chain(d.secondary.iter().map(|l| (l, false)))
    {
        render_label(out, label, primary, first, width, sources, &style, code);
        first = false;
    }
    if let Some(help) = &d.help {
        let pad = " ".repeat(width);
        if d.primary.is_some() {
            let _ = writeln!(out, "{pad} {}", style.paint("1;34", "|"));
        }
        let mut lines = help.lines();
        if let Some(first) = lines.next() {
            let _ = writeln!(out, "{pad} {} {first}", style.paint("1;34", "= help:"));
        }
        for line in lines {
            let _ = writeln!(out, "{pad}         {line}");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn render_label(
    out: &mut String,
    label: &Label,
    primary: bool,
    first: bool,
    width: usize,
    sources: &SourceMap,
    style: &Style,
    code: &str,
) {
    let pad = " ".repeat(width);
    let arrow = if first { "-->" } else { ":::" };
    let text = sources.get(&label.file);
    let Some((span, text)) = label.span.clone().zip(text) else {
        let _ = writeln!(out, "{pad}{} {}", style.paint("1;34", arrow), label.file);
        if !label.text.is_empty() {
            let _ = writeln!(out, "{pad} {} {}", style.paint("1;34", "="), label.text);
        }
        return;
    };
    let (line, col) = line_col(text, span.start);
    let _ = writeln!(
        out,
        "{pad}{} {}:{line}:{col}",
        style.paint("1;34", arrow),
        label.file
    );
    let line_start = text[..floor_char_boundary(text, span.start.min(text.len()))]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let source_line = text[line_start..line_end].trim_end_matches('\r');
    // Carets cover the span on its first line; at least one caret.
    let caret_start = col - 1;
    let span_end = floor_char_boundary(text, span.end.min(line_end).max(span.start));
    let caret_len = text[floor_char_boundary(text, span.start.min(text.len()))..span_end]
        .chars()
        .count()
        .max(1);
    let bar = style.paint("1;34", "|");
    let _ = writeln!(out, "{pad} {bar}");
    let _ = writeln!(
        out,
        "{} {bar} {}",
        style.paint("1;34", &format!("{line:>width$}")),
        expand_tabs(source_line)
    );
    let marker = if primary { "^" } else { "-" };
    let carets = marker.repeat(caret_len);
    let label_text = if label.text.is_empty() {
        String::new()
    } else {
        format!(" {}", label.text)
    };
    let indent: String = source_line
        .chars()
        .take(caret_start)
        .map(|c| if c == '\t' { "    " } else { " " })
        .collect();
    let _ = writeln!(
        out,
        "{pad} {bar} {indent}{}",
        style.paint(
            if primary { code } else { "1;34" },
            &format!("{carets}{label_text}")
        )
    );
}

fn expand_tabs(line: &str) -> String {
    line.replace('\t', "    ")
}

/// The closest of `candidates` to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase());
        if score > 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a = 1\nnäme = 2\n";
        let offset = text.find('=').unwrap();
        assert_eq!(line_col(text, offset), (1, 3));
        let second = text.rfind('=').unwrap();
        assert_eq!(line_col(text, second), (2, 6));
    }

    #[test]
    fn renders_compiler_style_snippet() {
        let mut sources = SourceMap::default();
        let text = "name = \"acme\"\n[database]\nreplica = 3\n";
        sources.insert("tenants/acme.toml", text.into());
        let start = text.find("replica").unwrap();
        let d = Diagnostic::error("unknown key `replica` in `database`")
            .at("tenants/acme.toml", Some(start..start + 7), "unknown key")
            .help("did you mean `replicas`?");
        let out = render(&[d], &sources, false);
        assert_eq!(
            out,
            "error: unknown key `replica` in `database`\n --> tenants/acme.toml:3:1\n  |\n3 | replica = 3\n  | ^^^^^^^ unknown key\n  |\n  = help: did you mean `replicas`?\n\n"
        );
    }

    #[test]
    fn names_the_commit_once_above_the_diagnostics() {
        let mut sources = SourceMap::default();
        sources.insert("platform.toml", "x = 1\n".into());
        sources.set_origin("https://git.example/config.git@3f2a9c1");
        let d = Diagnostic::error("bad").at("platform.toml", Some(0..1), "here");
        let out = render(&[d.clone(), d], &sources, false);
        assert!(
            out.starts_with("note: files from https://git.example/config.git@3f2a9c1\n\nerror: bad\n --> platform.toml:1:1\n"),
            "{out}"
        );
        assert_eq!(out.matches("3f2a9c1").count(), 1, "{out}");
        assert_eq!(render(&[], &sources, false), "");
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let keys = ["replicas", "storage", "version"];
        assert_eq!(did_you_mean("replica", keys), Some("replicas"));
        assert_eq!(did_you_mean("verison", keys), Some("version"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
