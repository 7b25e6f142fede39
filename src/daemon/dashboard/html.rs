//! The page layout (the `layout.html` template around a body), the one stylesheet, and small
//! helpers: escaping (from [`crate::output::html`], also the templates' escaper), URL
//! encoding, query strings and form bodies, ages.
//!
//! Pages carry no script; the Content-Security-Policy the routes send forbids any, and any
//! inline style (charts use SVG presentation attributes, gauges use `<meter>`).

use std::fmt::Write as _;

pub use crate::output::html::escape;

/// The stylesheet, served at `/static/style.css`.
pub const STYLE: &str = r#":root{--bg:#f6f7f9;--fg:#1b1f24;--mut:#5b6470;--card:#fff;--line:#d9dde3;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--acc:#0b5cad}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{background:#14202e;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem}
header .brand{font-weight:700;margin-right:.5rem;color:#fff;text-decoration:none}
header nav{display:flex;flex-wrap:wrap;gap:.1rem .9rem}
header nav a{color:#c9d6e3;text-decoration:none;padding:.2rem 0}
header nav a.on{color:#fff;border-bottom:2px solid #6cb6ff}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.15rem;margin:1.4rem 0 .6rem}h3{font-size:1.05rem}
a{color:var(--acc)}
.meta{color:var(--mut);font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.6rem;margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem}
.card .n{font-size:1.5rem;font-weight:700}.card .l{color:var(--mut);font-size:.85rem}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--mut);white-space:nowrap}
tr:last-child td{border-bottom:0}
td.num,th.num{text-align:right}
.pill{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap;border:1px solid}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.unknown{color:var(--mut)}
.pill.ok{background:#dafbe1;border-color:#aceebb}.pill.warn{background:#fff8c5;border-color:#eedc82}.pill.bad{background:#ffebe9;border-color:#ffc1ba}.pill.unknown{background:#eef1f4;border-color:#d0d7de}
ul.problems{margin:0;padding-left:1rem}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:.8rem}
label{display:block;font-size:.85rem;color:var(--mut)}
input,select,textarea{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:4px;background:#fff;max-width:100%}
button{font:inherit;padding:.4rem .9rem;border-radius:4px;border:1px solid #0a4f96;background:var(--acc);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--acc)}
button.link{background:none;border:0;padding:0;color:var(--acc);text-decoration:underline}
form.signout{float:right;margin:.2rem 0 0 1rem}
.field{margin:.6rem 0}.field input,.field select,.field textarea{width:28rem}
.field .err{color:var(--bad);font-size:.85rem;margin-top:.15rem}
.field .hint{color:var(--mut);font-size:.8rem}
.notice{background:#fff8c5;border:1px solid #eedc82;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
.notice.bad{background:#ffebe9;border-color:#ffc1ba;color:var(--fg)}
.notice.ok{background:#dafbe1;border-color:#aceebb;color:var(--fg)}
pre{background:#0f1720;color:#dbe4ee;padding:.7rem .9rem;border-radius:6px;overflow-x:auto;font-size:.85rem;line-height:1.35}
pre .add{color:#7ee787}pre .del{color:#ff7b72}pre .chg{color:#e3b341}pre .ctx{color:#8b949e}pre .blocked{color:#ff7b72}
p.blocked{color:var(--bad)}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}
code{font-size:.9em;background:#eef1f4;padding:0 .2rem;border-radius:3px}pre code{background:none;padding:0}
meter{width:8rem;height:.9rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:.8rem}
.chart{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem}
.chart h3{margin:.1rem 0 .4rem;font-size:.95rem}
svg{width:100%;height:auto;display:block}svg.key{width:10px;height:10px;display:inline-block}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dl.kv dt{color:var(--mut)}dl.kv dd{margin:0}
nav.ranges{display:flex;flex-wrap:wrap;gap:.2rem 1rem;margin:0 0 .8rem}nav.ranges a.on{font-weight:700;color:var(--fg);text-decoration:none}
.forms{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:.6rem}
@media (max-width:700px){.opt{display:none}main{padding:.6rem}.field input,.field select,.field textarea{width:100%}th,td{padding:.35rem .4rem}}
"#;

/// Which menu entry is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/`.
    Overview,
    /// `/tenants/...`.
    Tenant,
    /// `/plan`.
    Plan,
    /// `/backups`.
    Backups,
    /// `/trends`.
    Trends,
    /// `/propose`.
    Propose,
}

impl Nav {
    /// The name the layout template knows the entry by.
    pub fn slug(self) -> &'static str {
        match self {
            Nav::Overview => "overview",
            Nav::Tenant => "tenant",
            Nav::Plan => "plan",
            Nav::Backups => "backups",
            Nav::Trends => "trends",
            Nav::Propose => "propose",
        }
    }
}

/// A whole page around `body`, markup made by a template or an escaping printer (the
/// layout template, `layout.html`, escapes the title and the footer).
pub fn layout(title: &str, nav: Nav, body: &str, footer: &str) -> String {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        html: &'a str,
    }
    super::templates::render(
        "layout.html",
        &super::templates::Page {
            title,
            nav: nav.slug(),
            footer,
            page: Body { html: body },
        },
    )
}

/// `1 sync`, `2 syncs`: `n` and the noun, plural with an `s` unless `n` is 1.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `123` seconds as `2m`, `5h`, `3d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub use crate::object::short_revision as short_rev;

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body) into
/// pairs, in order. Invalid percent escapes are kept as written.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `key` in decoded pairs.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Percent-encodes `s` for a URL path segment or query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_encode() {
        let pairs = parse_form("q=acme+corp&x=%3Cb%3E&bad=%zz&e=&n");
        assert_eq!(get(&pairs, "q"), Some("acme corp"));
        assert_eq!(get(&pairs, "x"), Some("<b>"));
        assert_eq!(get(&pairs, "bad"), Some("%zz"));
        assert_eq!(get(&pairs, "e"), Some(""));
        assert_eq!(get(&pairs, "n"), Some(""));
        assert_eq!(get(&parse_form("a=%4"), "a"), Some("%4"));
        assert_eq!(url_encode("a b/<c>"), "a%20b%2F%3Cc%3E");
    }

    #[test]
    fn the_layout_escapes_the_title_and_footer() {
        let page = layout("<x>", Nav::Plan, "<p>body</p>", "a&b");
        assert!(page.contains("<title>&lt;x&gt; · berth</title>"));
        assert!(page.contains("<p>body</p>"));
        assert!(page.contains("a&amp;b"));
        assert!(page.contains("href=\"/plan\" class=\"on\""));
        assert!(!page.contains("<script"));
    }

    #[test]
    fn ages_and_revisions_read_short() {
        assert_eq!(age(59), "59s");
        assert_eq!(age(3600 * 5), "5h");
        assert_eq!(age(86_400 * 3), "3d");
        assert_eq!(short_rev(&"a".repeat(40)), "aaaaaaaaaaaa");
        assert_eq!(short_rev("sha256:0123"), "sha256:0123");
        assert_eq!(count(1, "sync"), "1 sync");
        assert_eq!(count(0, "sync"), "0 syncs");
        assert_eq!(count(2, "drifted object"), "2 drifted objects");
    }
}
