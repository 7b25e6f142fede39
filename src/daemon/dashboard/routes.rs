//! The dashboard's HTTP handlers.
//!
//! | Method | Path | |
//! |---|---|---|
//! | GET | `/` | overview; `?q=` search, `?cluster=`, `?problems=1` |
//! | GET | `/tenants/{name}` | a tenant |
//! | GET | `/plan`, `/plan.md` | latest plan and drift (HTML, Markdown) |
//! | GET | `/backups` | every backup schedule |
//! | GET | `/trends` | charts of the sync history, quota use; `?range=6h`, `1d`, `7d`, `30d` from Prometheus |
//! | GET | `/propose`, `/propose/{form}` | the proposal forms; `?tenant=` fills in a tenant's current values |
//! | POST | `/propose/{form}` | preview or commit a proposal (session, CSRF, same origin) |
//! | POST | `/login`, `/logout` | exchange the dashboard token for a session cookie |
//! | GET | `/static/style.css` | the stylesheet |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::auth::{cookie, same_origin, SESSION_COOKIE, SESSION_SECONDS};
use serde::Serialize;

use super::html::{layout, parse_form, Nav, STYLE};
use super::propose::{self, Kind};
use super::views::{self, Filter};
use crate::daemon::Shared;
use crate::output::html::{to_html, HtmlOptions};
use crate::source::propose::{Proposal, ProposalRepo, ProposeError};
use crate::source::SourceTree;
use crate::values::time::now_unix;

/// The dashboard's routes, merged into the daemon's router.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(overview))
        .route("/tenants/{name}", get(tenant))
        .route("/plan", get(plan))
        .route("/plan.md", get(plan_markdown))
        .route("/backups", get(backups))
        .route("/trends", get(trends))
        .route("/propose", get(propose_index))
        .route("/propose/{form}", get(propose_form).post(propose_submit))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route(
            "/static/style.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, "max-age=300"),
                    ],
                    STYLE,
                )
            }),
        )
}

/// The Content-Security-Policy of every page: no script, no inline style, forms only to
/// this origin, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn page(code: StatusCode, html: String) -> Response {
    let mut r = (code, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn query(uri: &Uri) -> Vec<(String, String)> {
    parse_form(uri.query().unwrap_or(""))
}

async fn overview(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let filter = Filter::from_pairs(&query(&uri));
    let status = shared.status.read().unwrap();
    let snap = shared.dashboard.snapshot.read().unwrap();
    let html = views::overview_page(&status, &snap, now_unix(), &filter);
    page(StatusCode::OK, html)
}

async fn tenant(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let status = shared.status.read().unwrap();
    let snap = shared.dashboard.snapshot.read().unwrap();
    match views::tenant_page(&name, &status, &snap, now_unix()) {
        Some(html) => page(StatusCode::OK, html),
        None => page(
            StatusCode::NOT_FOUND,
            message_page(
                "Not found",
                Nav::Tenant,
                Message {
                    heading: Some(format!("No tenant {name}")),
                    links: vec![("/", "All tenants")],
                    ..Message::default()
                },
            ),
        ),
    }
}

async fn plan(State(shared): State<Arc<Shared>>) -> Response {
    let status = shared.status.read().unwrap();
    let snap = shared.dashboard.snapshot.read().unwrap();
    page(StatusCode::OK, views::plan_page(&status, &snap, now_unix()))
}

async fn plan_markdown(State(shared): State<Arc<Shared>>) -> Response {
    let plan = shared.dashboard.snapshot.read().unwrap().plan.clone();
    match plan {
        Some(p) => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            crate::output::to_markdown(&p),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no plan yet\n").into_response(),
    }
}

async fn backups(State(shared): State<Arc<Shared>>) -> Response {
    let status = shared.status.read().unwrap();
    let snap = shared.dashboard.snapshot.read().unwrap();
    page(
        StatusCode::OK,
        views::backups_page(&status, &snap, now_unix()),
    )
}

async fn trends(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let pairs = query(&uri);
    let asked = super::html::get(&pairs, "range")
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let now = now_unix();
    // What to ask Prometheus, read under the lock and released before the requests.
    let (url, tenants) = {
        let snap = shared.dashboard.snapshot.read().unwrap();
        let url = snap
            .config
            .as_ref()
            .and_then(|c| c.dashboard.prometheus_url.clone());
        let tenants: Vec<String> = views::fullest_tenants(&snap)
            .into_iter()
            .take(super::prometheus::MAX_TENANTS)
            .map(|(t, _)| t.to_string())
            .collect();
        (url, tenants)
    };
    let mut unavailable = None;
    let mut read = None;
    if let Some(name) = &asked {
        match (super::prometheus::range(name), &url) {
            (Some(range), Some(url)) => {
                let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
                let t = super::prometheus::fetch(url, range, now, &names).await;
                for e in &t.errors {
                    tracing::warn!(error = %e, "dashboard: reading trends from Prometheus");
                }
                read = Some(t);
            }
            (Some(_), None) => {
                unavailable = Some("No Prometheus server is configured (`[dashboard] prometheus_url` in platform.toml): showing the history the daemon keeps.".to_string());
            }
            (None, _) => {
                unavailable = Some(format!(
                    "Unknown range `{name}`: showing the history the daemon keeps."
                ));
            }
        }
    }
    let source = match (&read, unavailable) {
        (Some(t), _) => views::TrendsSource::Prometheus(t),
        (None, Some(why)) => views::TrendsSource::Unavailable(why),
        (None, None) => views::TrendsSource::Local,
    };
    let status = shared.status.read().unwrap();
    let snap = shared.dashboard.snapshot.read().unwrap();
    page(
        StatusCode::OK,
        views::trends_page(&status, &snap, now, &source),
    )
}

/// Whether proposals can be made, or why not.
fn enabled(shared: &Shared) -> Result<(), String> {
    if !shared.dashboard.auth.enabled() {
        return Err("Start the daemon with --dashboard-token-file FILE (or the variable BERTH_DASHBOARD_TOKEN) to enable them.".into());
    }
    shared
        .dashboard
        .proposals
        .as_ref()
        .map(|_| ())
        .map_err(|e| {
            format!("Proposals are committed to the config repository's Git repository: {e}.")
        })
}

fn session(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let c = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| cookie(c, SESSION_COOKIE))?;
    shared.dashboard.auth.session(c, now_unix())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn origin_ok(headers: &HeaderMap) -> bool {
    same_origin(
        header_str(headers, header::HOST),
        header_str(headers, header::ORIGIN),
        header_str(headers, header::REFERER),
    )
}

/// A notice: `<div class="notice CLASS" id="ID"><strong>STRONG</strong> TEXT</div>`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Notice {
    /// `bad`, `ok`, or empty.
    pub class: &'static str,
    /// Its id, for tests and links.
    pub id: Option<&'static str>,
    /// Its first words, in bold.
    pub strong: Option<&'static str>,
    /// The rest.
    pub text: String,
}

impl Notice {
    fn bad(text: impl Into<String>) -> Notice {
        Notice {
            class: "bad",
            text: text.into(),
            ..Notice::default()
        }
    }
}

/// The sign-in form.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    /// Where to go after signing in.
    pub next: String,
    /// What went wrong with the last try.
    pub error: Option<&'static str>,
}

/// What a proposal was committed as.
#[derive(Debug, Clone, Serialize)]
pub struct Committed {
    /// The commit.
    pub commit: String,
    /// The new branch.
    pub branch: String,
    /// The remote it was pushed to, if any.
    pub pushed_to: Option<String>,
    /// The parent commit (short).
    pub parent: String,
    /// The tenant.
    pub tenant: String,
    /// Whether the daemon knows the tenant (it has a page to go back to).
    pub tenant_known: bool,
}

/// A proposal's files and plan.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// A new file's `#:schema` line points at schemas the repository does not hold yet.
    pub no_schemas: bool,
    /// The files' diffs.
    pub files: Vec<propose::FileDiff>,
    /// The plan it would cause, by the HTML plan printer.
    pub plan_html: Option<String>,
}

/// The body of the pages of the proposal routes (and of the other short pages): each part
/// shown when it is there, in this order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Message {
    /// The sign-out control of a signed-in user.
    pub sign_out: bool,
    /// The `<h1>`.
    pub heading: Option<String>,
    /// The revision the form is against (short).
    pub revision: Option<String>,
    /// Links, one a paragraph: URL and text.
    pub links: Vec<(&'static str, &'static str)>,
    /// Sign in again.
    pub session_ended: bool,
    /// The sign-in form.
    pub login: Option<Login>,
    /// A notice.
    pub notice: Option<Notice>,
    /// What was committed.
    pub committed: Option<Committed>,
    /// The form, by [`propose::form_html`].
    pub form_html: Option<String>,
    /// The change and its plan.
    pub preview: Option<Preview>,
}

/// A page of `body` in the layout.
fn message_page(title: &str, nav: Nav, body: Message) -> String {
    super::templates::render(
        "message.html",
        &super::templates::Page {
            title,
            nav: nav.slug(),
            footer: "",
            page: body,
        },
    )
}

fn propose_page(title: &str, body: Message) -> String {
    message_page(title, Nav::Propose, body)
}

/// The forms' context at `rev` for the tenant `values` name, with the `#:schema` lines that
/// resolve in that repository.
fn form_context(
    repo: &ProposalRepo,
    rev: &str,
    tree: &SourceTree,
    values: &[(String, String)],
) -> propose::Context {
    let tenant = super::html::get(values, "tenant")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let schemas = propose::Schemas::find(tree, repo.depth(), &|p| repo.exists(rev, p));
    propose::Context::from_tree(tree, tenant).with_schemas(schemas)
}

async fn propose_index(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let on = enabled(&shared);
    let signed_in = on.is_ok() && session(&shared, &headers).is_some();
    let repo = match (&on, &shared.dashboard.proposals) {
        (Ok(()), Ok(repo)) => Some(repo.describe()),
        _ => None,
    };
    let body = propose::index_html(on, signed_in, repo);
    page(
        StatusCode::OK,
        layout("Propose a change", Nav::Propose, &body, ""),
    )
}

fn sign_in(next: &str, error: Option<&'static str>) -> Option<Login> {
    Some(Login {
        next: next.to_string(),
        error,
    })
}

async fn propose_form(
    State(shared): State<Arc<Shared>>,
    Path(form): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(kind) = Kind::from_slug(&form) else {
        return page(StatusCode::NOT_FOUND, no_such_form());
    };
    let title = kind.title();
    if let Err(why) = enabled(&shared) {
        let body = Message {
            heading: Some(title.into()),
            notice: Some(Notice {
                strong: Some("Proposals are disabled."),
                text: why,
                ..Notice::default()
            }),
            ..Message::default()
        };
        return page(StatusCode::OK, propose_page(title, body));
    }
    let Some(sid) = session(&shared, &headers) else {
        let next = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let body = Message {
            heading: Some(title.into()),
            login: sign_in(&next, None),
            ..Message::default()
        };
        return page(StatusCode::OK, propose_page(title, body));
    };
    let asked = query(&uri);
    let shared2 = shared.clone();
    let q = asked.clone();
    let base = tokio::task::spawn_blocking(move || match &shared2.dashboard.proposals {
        Ok(repo) => repo
            .base()
            .map(|(rev, tree)| {
                let ctx = form_context(repo, &rev, &tree, &q);
                (rev, ctx)
            })
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let (rev, ctx) = match base {
        Ok(b) => b,
        Err(e) => return error_page(title, &e),
    };
    // A tenant's form starts from its current values; what the query names wins.
    let mut values = ctx.prefill(kind);
    for (k, v) in asked {
        match values.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => values.push((k, v)),
        }
    }
    let mut errors = propose::Errors::default();
    if let (true, Some(t), None) = (
        kind.per_tenant(),
        non_empty(&values, "tenant"),
        ctx.chosen.as_ref(),
    ) {
        errors.at("tenant", format!("no tenant `{t}` at this revision"));
    }
    let csrf = shared.dashboard.auth.csrf(&sid);
    let body = Message {
        sign_out: true,
        heading: Some(title.into()),
        revision: Some(super::html::short_rev(&rev).to_string()),
        form_html: Some(propose::form_html(kind, &ctx, &values, &errors, &csrf)),
        ..Message::default()
    };
    page(StatusCode::OK, propose_page(title, body))
}

fn no_such_form() -> String {
    propose_page(
        "Not found",
        Message {
            heading: Some("No such form".into()),
            ..Message::default()
        },
    )
}

fn error_page(title: &str, e: &str) -> Response {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        propose_page(
            title,
            Message {
                heading: Some(title.into()),
                notice: Some(Notice::bad(e)),
                ..Message::default()
            },
        ),
    )
}

fn forbidden(why: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        propose_page(
            "Refused",
            Message {
                heading: Some("Refused".into()),
                notice: Some(Notice::bad(why)),
                ..Message::default()
            },
        ),
    )
}

async fn login(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !origin_ok(&headers) {
        return forbidden("cross-site request: the form must be sent from this dashboard");
    }
    let form = parse_form(&String::from_utf8_lossy(&body));
    let next = super::html::get(&form, "next").unwrap_or("/propose");
    // Only local paths: never redirect elsewhere.
    let next = if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/propose".to_string()
    };
    if enabled(&shared).is_err() {
        return forbidden("proposals are disabled");
    }
    let token = super::html::get(&form, "token").unwrap_or("");
    if !shared.dashboard.auth.token_matches(token) {
        tracing::warn!("dashboard: sign-in with a wrong token");
        return page(
            StatusCode::UNAUTHORIZED,
            propose_page(
                "Sign in",
                Message {
                    login: sign_in(&next, Some("wrong token")),
                    ..Message::default()
                },
            ),
        );
    }
    let value = shared.dashboard.auth.new_session(now_unix());
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
    );
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let (Ok(c), Ok(l)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&next)) {
        r.headers_mut().insert(header::SET_COOKIE, c);
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

async fn logout(headers: HeaderMap) -> Response {
    if !origin_ok(&headers) {
        return forbidden("cross-site request");
    }
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("berth_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/propose"));
    r
}

async fn propose_submit(
    State(shared): State<Arc<Shared>>,
    Path(form): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(kind) = Kind::from_slug(&form) else {
        return page(StatusCode::NOT_FOUND, no_such_form());
    };
    if !origin_ok(&headers) {
        tracing::warn!("dashboard: cross-site proposal refused");
        return forbidden("cross-site request: the form must be sent from this dashboard");
    }
    if let Err(why) = enabled(&shared) {
        return forbidden(&format!("proposals are disabled. {why}"));
    }
    let values = parse_form(&String::from_utf8_lossy(&body));
    let Some(sid) = session(&shared, &headers) else {
        let title = kind.title();
        let next = format!("/propose/{}", kind.slug());
        return page(
            StatusCode::UNAUTHORIZED,
            propose_page(
                title,
                Message {
                    heading: Some(title.into()),
                    session_ended: true,
                    login: sign_in(&next, None),
                    ..Message::default()
                },
            ),
        );
    };
    let csrf = super::html::get(&values, "csrf").unwrap_or("");
    if !shared.dashboard.auth.csrf_ok(&sid, csrf) {
        tracing::warn!("dashboard: proposal with a wrong CSRF token refused");
        return forbidden("the form's CSRF token is wrong or missing: reload the form");
    }
    let commit = super::html::get(&values, "action") == Some("commit");
    let csrf = shared.dashboard.auth.csrf(&sid);
    let shared2 = shared.clone();
    let result =
        tokio::task::spawn_blocking(move || submit(&shared2, kind, &values, commit, &csrf))
            .await
            .unwrap_or_else(|e| {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Message {
                        notice: Some(Notice::bad(e.to_string())),
                        ..Message::default()
                    },
                )
            });
    page(result.0, propose_page(kind.title(), result.1))
}

/// Builds, checks and (when asked and valid) commits a proposal; the page body and status.
fn submit(
    shared: &Shared,
    kind: Kind,
    values: &[(String, String)],
    commit: bool,
    csrf: &str,
) -> (StatusCode, Message) {
    let title = kind.title();
    let repo = match &shared.dashboard.proposals {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::FORBIDDEN,
                Message {
                    notice: Some(Notice {
                        text: e.clone(),
                        ..Notice::default()
                    }),
                    ..Message::default()
                },
            )
        }
    };
    let (rev, base) = match repo.base() {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Message {
                    notice: Some(Notice::bad(e.to_string())),
                    ..Message::default()
                },
            )
        }
    };
    let ctx = form_context(repo, &rev, &base, values);
    let head = Message {
        sign_out: true,
        heading: Some(title.into()),
        revision: Some(super::html::short_rev(&rev).to_string()),
        ..Message::default()
    };
    let built = match propose::build(kind, values, &base, &ctx) {
        Ok(b) => b,
        Err(errors) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Message {
                    form_html: Some(propose::form_html(kind, &ctx, values, &errors, csrf)),
                    ..head
                },
            )
        }
    };
    let checked = propose::check(kind, &built, &base);
    let preview = Preview {
        no_schemas: ctx.schemas.missing && built.before.iter().any(Option::is_none),
        files: built
            .files
            .iter()
            .zip(&built.before)
            .map(|(f, before)| propose::file_diff(&f.path, before.as_deref(), &f.text))
            .collect(),
        // A new tenant has no page before the branch is merged: no link to one.
        plan_html: checked.plan.as_ref().map(|p| {
            to_html(
                p,
                HtmlOptions {
                    no_links: kind == Kind::Tenant,
                    ..HtmlOptions::default()
                },
            )
        }),
    };
    let form =
        |errors: &propose::Errors| Some(propose::form_html(kind, &ctx, values, errors, csrf));
    if !checked.errors.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Message {
                form_html: form(&checked.errors),
                preview: Some(preview),
                ..head
            },
        );
    }
    if !commit {
        return (
            StatusCode::OK,
            Message {
                notice: Some(Notice {
                    class: "ok",
                    text: "Valid. Review the change and the plan below, then commit it.".into(),
                    ..Notice::default()
                }),
                form_html: form(&checked.errors),
                preview: Some(preview),
                ..head
            },
        );
    }
    let author = (
        non_empty(values, "author_name")
            .unwrap_or("berth dashboard")
            .to_string(),
        non_empty(values, "author_email")
            .unwrap_or("berth@localhost")
            .to_string(),
    );
    let proposal = Proposal {
        branch: built.branch.clone(),
        message: built.message.clone(),
        files: built.files.clone(),
        author,
    };
    match repo.commit(&rev, &proposal) {
        Ok(done) => {
            tracing::info!(branch = %done.branch, commit = %done.commit, tenant = %built.tenant, "dashboard: proposal committed");
            (
                StatusCode::OK,
                Message {
                    committed: Some(Committed {
                        commit: done.commit.clone(),
                        branch: done.branch.clone(),
                        pushed_to: done.pushed_to.clone(),
                        parent: super::html::short_rev(&done.parent).to_string(),
                        tenant: built.tenant.clone(),
                        tenant_known: knows(shared, kind, &built.tenant),
                    }),
                    preview: Some(preview),
                    ..head
                },
            )
        }
        Err(e) => {
            let mut errors = propose::Errors::default();
            let (code, notice) = match &e {
                ProposeError::BranchExists(_) | ProposeError::BadBranch(_) => {
                    errors.at("branch", e.to_string());
                    (StatusCode::CONFLICT, None)
                }
                ProposeError::Push {
                    branch,
                    remote,
                    message,
                } => {
                    tracing::warn!(%branch, %remote, error = %message, tenant = %built.tenant, "dashboard: pushing a proposal failed");
                    (
                        StatusCode::BAD_GATEWAY,
                        Some(Notice {
                            class: "bad",
                            id: Some("push-failed"),
                            strong: Some("The push failed:"),
                            text: format!("{e}. Nothing was kept: the commit was dropped, so the same branch name can be used again. Check that {remote} can be reached and accepts a new branch from the daemon (its credentials, branch protection or hooks on the server, write access to a local repository); the daemon's log has the details. Then commit again: the form below is as you filled it in."),
                        }),
                    )
                }
                ProposeError::Moved { .. } => (
                    StatusCode::CONFLICT,
                    Some(Notice {
                        class: "bad",
                        id: Some("commit-failed"),
                        strong: Some("Not committed:"),
                        text: format!("{e}."),
                    }),
                ),
                _ => {
                    tracing::warn!(error = %e, tenant = %built.tenant, "dashboard: committing a proposal failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Some(Notice {
                            class: "bad",
                            id: Some("commit-failed"),
                            strong: Some("The commit failed:"),
                            text: format!("{e}. Check that the daemon can write to {}; the daemon's log has the details.", repo.describe()),
                        }),
                    )
                }
            };
            (
                code,
                Message {
                    notice,
                    form_html: form(&errors),
                    preview: Some(preview),
                    ..head
                },
            )
        }
    }
}

/// Whether the page after a commit goes back to the tenant's page (the daemon knows the
/// tenant) or to the overview, where it appears once the branch is merged and synced.
fn knows(shared: &Shared, kind: Kind, tenant: &str) -> bool {
    kind != Kind::Tenant && {
        let status = shared.status.read().unwrap();
        let snap = shared.dashboard.snapshot.read().unwrap();
        views::knows_tenant(tenant, &status, &snap)
    }
}

fn non_empty<'a>(values: &'a [(String, String)], k: &str) -> Option<&'a str> {
    super::html::get(values, k)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::dashboard::html::url_encode;

    const EVIL: &str = "<script>alert(1)</script>\"'&";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";

    fn committed(tenant_known: bool) -> Message {
        Message {
            sign_out: true,
            heading: Some(format!("heading {EVIL}")),
            revision: Some(format!("rev {EVIL}")),
            login: sign_in(&format!("/next{EVIL}"), Some("wrong token")),
            notice: Some(Notice::bad(format!("error {EVIL}"))),
            committed: Some(Committed {
                commit: format!("c{EVIL}"),
                branch: format!("b{EVIL}"),
                pushed_to: Some(format!("r{EVIL}")),
                parent: format!("p{EVIL}"),
                tenant: EVIL.into(),
                tenant_known,
            }),
            preview: Some(Preview {
                no_schemas: true,
                files: vec![propose::file_diff(
                    &format!("tenants/{EVIL}.toml"),
                    None,
                    EVIL,
                )],
                plan_html: None,
            }),
            ..Message::default()
        }
    }

    #[test]
    fn the_proposal_pages_escape_errors_branches_and_tenant_names() {
        let page = propose_page(EVIL, committed(false));
        assert!(!page.contains("<script"), "{page}");
        for shown in [
            format!("<title>{ESCAPED} · berth</title>"),
            format!("<h1>heading {ESCAPED}</h1>"),
            format!("<code>rev {ESCAPED}</code>"),
            format!("name=\"next\" value=\"/next{ESCAPED}\""),
            format!("<div class=\"notice bad\">error {ESCAPED}</div>"),
            format!("<code class=\"commit\">c{ESCAPED}</code>"),
            format!("<code class=\"branch\">b{ESCAPED}</code> and pushed to r{ESCAPED}"),
            format!("(tenant {ESCAPED} appears there"),
            format!("<code>tenants/{ESCAPED}.toml</code>"),
            format!("<span class=\"add\">+{ESCAPED}</span>"),
        ] {
            assert!(page.contains(&shown), "{shown}: {page}");
        }
        let page = propose_page("t", committed(true));
        assert!(
            page.contains(&format!(
                "<a href=\"/tenants/{}\" id=\"back\">Back to the tenant</a>",
                url_encode(EVIL)
            )),
            "{page}"
        );
    }
}
