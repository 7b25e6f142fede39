//! The dashboard's HTML and SVG templates (minijinja, embedded in the binary), and their
//! rendering. Pages are built in two steps: a pure function makes the page data (plain
//! `Serialize` structs, tested without HTML), then a template turns it into markup.
//!
//! **Every value a template prints is escaped** (auto-escaping for `.html` and `.svg`
//! templates, with [`escape`], the same escaper as the HTML plan printer). The only values
//! printed unescaped (`|safe`) are markup made by another template of this module or by
//! [`crate::output::html`], which escape what they print.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;

use super::html::{escape, url_encode};

/// The templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("plan.html", include_str!("templates/plan.html")),
    ("backups.html", include_str!("templates/backups.html")),
    ("tenant.html", include_str!("templates/tenant.html")),
    ("trends.html", include_str!("templates/trends.html")),
    (
        "propose_form.html",
        include_str!("templates/propose_form.html"),
    ),
    (
        "propose_index.html",
        include_str!("templates/propose_index.html"),
    ),
    ("file_diff.html", include_str!("templates/file_diff.html")),
    ("message.html", include_str!("templates/message.html")),
    ("chart.svg", include_str!("templates/chart.svg")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters"),
        );
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") || name.ends_with(".svg") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(
            |out: &mut minijinja::Output, state: &mut minijinja::State, value: &Value| {
                if matches!(state.auto_escape(), AutoEscape::None) || value.is_safe() {
                    return minijinja::escape_formatter(out, state, value);
                }
                if value.is_none() || value.is_undefined() {
                    return Ok(());
                }
                out.write_str(&escape(&value.to_string()))
                    .map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string()))
            },
        );
        env.add_filter("url", |s: &str| url_encode(s));
        for (name, text) in TEMPLATES {
            env.add_template(name, text)
                .expect("the dashboard's templates are tested to parse");
        }
        env
    })
}

/// Renders template `name` with `data`. A template that fails to render (a bug: every
/// template is rendered by the tests) gives a page that says so rather than half a page.
pub fn render(name: &str, data: &impl Serialize) -> String {
    let rendered = env()
        .get_template(name)
        .and_then(|t| t.render(Value::from(minijinja::value::Serde(data))));
    match rendered {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(template = name, error = %e, "a dashboard template failed");
            format!(
                "<!doctype html>\n<p>This page could not be rendered ({}): please report it.</p>\n",
                escape(&e.to_string())
            )
        }
    }
}

/// A whole page: the layout around a page's own data.
#[derive(Debug, Serialize)]
pub struct Page<'a, T: Serialize> {
    /// The `<title>`, before ` · berth`.
    pub title: &'a str,
    /// The highlighted menu entry: `overview`, `plan`, `backups`, `trends`, `propose`, or
    /// `tenant` (none).
    pub nav: &'a str,
    /// The line at the bottom.
    pub footer: &'a str,
    /// What the page shows.
    pub page: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_page_whose_template_fails_says_so_instead_of_showing_half_a_page() {
        // The layout without its data: `title` is missing, which is an error.
        let page = render("overview.html", &());
        assert!(page.contains("This page could not be rendered"), "{page}");
        assert!(!page.contains("<h1>Overview</h1>"), "{page}");
    }

    #[test]
    fn values_are_escaped_and_only_safe_markup_is_not() {
        let mut env = env().clone();
        env.add_template("t.html", "{{ a }}|{{ b|safe }}|{{ c }}|{{ d|url }}|{{ e }}")
            .unwrap();
        let out = env
            .get_template("t.html")
            .unwrap()
            .render(minijinja::context! {
                a => "<script>alert(1)</script>\"'&/",
                b => "<b>x</b>",
                c => Value::from(()),
                d => "a b/<c>",
                e => 3,
            })
            .unwrap();
        assert_eq!(
            out,
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;/|<b>x</b>||a%20b%2F%3Cc%3E|3"
        );
    }
}
