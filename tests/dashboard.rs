//! The dashboard end to end: the real daemon on a copy of `examples/` in a Git working copy,
//! the embedded cluster with statuses written into it (database readiness, a backup's last
//! success, quota use) and a change made outside berth, pages fetched over HTTP, proposals
//! committed to new branches; then the same in headless Chromium through chromedriver's
//! WebDriver API, with screenshots saved under `target/dashboard-screenshots/`.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth::store::ObjectStore;
use serde_json::{json, Value};
use support::{http, Daemon};

const TOKEN: &str = "dashboard-test-token-0123456789";
/// A Secret value put in the cluster: it must never reach a page.
const SECRET_B64: &str = "c3VwZXJzZWNyZXQtdmFsdWU=";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `root/repo`: a Git working copy of examples/ with one commit; `root/state`; the token file.
fn setup(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let repo = root.join("repo");
    support::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &repo,
    );
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "Initial platform"]);
    let token = root.join("token");
    fs::write(&token, format!("{TOKEN}\n")).unwrap();
    (repo, root.join("state"), token)
}

/// Starts the daemon (drift checks every second) and waits for the first sync.
fn start(root: &Path, repo: &Path, state: &Path, token: Option<&Path>) -> Daemon {
    let mut args = vec![
        repo.to_str().unwrap().to_string(),
        "--state-dir".into(),
        state.to_str().unwrap().to_string(),
        "--interval".into(),
        "1h".into(),
        "--drift-interval".into(),
        "1s".into(),
    ];
    if let Some(t) = token {
        args.push("--dashboard-token-file".into());
        args.push(t.to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = Daemon::start(&args, root, &[]);
    d.wait(90, "the first sync", || {
        (d.status()["last_sync"]["result"] == "applied").then_some(())
    });
    d
}

/// Writes what controllers would into the embedded cluster: acme's database 3 of 5 ready, a
/// backup of acme that succeeded an hour ago, acme's quota use; and a change outside berth
/// to globex's quota (drift), and a Secret with a value.
fn seed_cluster(state: &Path) {
    let store = ObjectStore::open(state.join("local.sqlite3")).unwrap();
    store
        .set_status(
            "StatefulSet",
            "tenant-acme",
            "db",
            json!({"replicas": 5, "readyReplicas": 3}),
        )
        .unwrap();
    let hour_ago = berth::values::time::format_rfc3339(berth::values::time::now_unix() - 3600);
    store
        .set_status(
            "CronJob",
            "tenant-acme",
            "backup-nightly",
            json!({"lastSuccessfulTime": hour_ago, "lastScheduleTime": hour_ago}),
        )
        .unwrap();
    store
        .set_status(
            "ResourceQuota",
            "tenant-acme",
            "tenant-quota",
            json!({"hard": {"requests.cpu": "48", "requests.memory": "128Gi", "requests.storage": "2Ti", "pods": "100"},
                   "used": {"requests.cpu": "20", "requests.memory": "80Gi", "requests.storage": "500Gi", "pods": "7"}}),
        )
        .unwrap();
    store
        .merge_patch(
            "ResourceQuota",
            "tenant-globex",
            "tenant-quota",
            &json!({"spec": {"hard": {"pods": "99"}}}),
            "kubectl-edit",
            false,
        )
        .unwrap();
    store
        .create(
            "Secret",
            "tenant-acme",
            json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "leftover", "namespace": "tenant-acme",
                                 "labels": {"app.kubernetes.io/managed-by": "berth", "berth.io/tenant": "acme"}},
                    "data": {"password": SECRET_B64}}),
            "kubectl",
            false,
        )
        .unwrap();
}

fn get(d: &Daemon, path: &str) -> String {
    let (code, body) = http("GET", &format!("{}{path}", d.url), &[], b"");
    assert_eq!(code, 200, "GET {path}: {body}");
    assert!(!body.contains(SECRET_B64), "a secret value on {path}");
    body
}

/// One HTTP request: status, raw head and body.
fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    request_as(
        method,
        url,
        headers,
        body,
        "application/x-www-form-urlencoded",
    )
}

/// [`request`] with a content type; waits up to two minutes for the answer (a browser
/// starting on a busy machine is slow).
fn request_as(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    content_type: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\nContent-Type: {content_type}\r\n",
        if path.is_empty() { "/" } else { path },
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    // Read the head, then the body by its length (or chunks): some servers keep the
    // connection open whatever the request says.
    use std::io::BufRead;
    let mut r = std::io::BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut raw = Vec::new();
    if let Some(n) = length {
        raw.resize(n, 0);
        r.read_exact(&mut raw).unwrap();
    } else if lower.contains("transfer-encoding: chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            raw.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut raw).unwrap();
    }
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head, String::from_utf8_lossy(&raw).into_owned())
}

fn wait_for_observation(d: &Daemon) {
    d.wait(60, "the drift check to see the seeded statuses", || {
        let (_, body) = http("GET", &format!("{}/", d.url), &[], b"");
        let s = d.status();
        (body.contains("3/5 ready") && s["drifted"].as_u64() >= Some(1)).then_some(())
    });
}

#[test]
fn pages_show_tenants_health_drift_backups_and_trends() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state, token) = setup(root.path());
    let d = start(root.path(), &repo, &state, Some(&token));
    seed_cluster(&state);
    wait_for_observation(&d);

    let overview = get(&d, "/");
    for t in ["acme", "globex", "initech"] {
        assert!(
            overview.contains(&format!("data-tenant=\"{t}\"")),
            "{t}: {overview}"
        );
    }
    // Problems first: acme (database) and globex (drift) before initech.
    let pos = |t: &str| overview.find(&format!("data-tenant=\"{t}\"")).unwrap();
    assert!(pos("acme") < pos("initech") && pos("globex") < pos("initech"));
    assert!(overview.contains("database 3/5 ready"), "{overview}");
    // What `berth status` says of acme, the overview says too: its backup Secret is missing.
    assert!(
        overview.contains("Secret/tenant-acme/backup-s3 missing"),
        "{overview}"
    );
    assert!(overview.contains("1 drifted"), "{overview}");
    assert!(overview.contains("reachable"));
    assert!(
        overview.contains("1h ago"),
        "acme's last backup: {overview}"
    );

    let search = get(&d, "/?q=glob");
    assert!(search.contains("data-tenant=\"globex\"") && !search.contains("data-tenant=\"acme\""));
    let problems = get(&d, "/?problems=1");
    assert!(!problems.contains("data-tenant=\"initech\"") || problems.contains("no backup"));

    let acme = get(&d, "/tenants/acme");
    for s in [
        "ACME Corporation",
        "3/5 ready",
        "alice@acme.example",
        "48 (tenant file)",
        "<meter",
        "nightly",
        "orders-2026-11-20",
        "Pending changes",
        "Secret/tenant-acme/leftover",
        "Secret/tenant-acme/backup-s3 missing",
    ] {
        assert!(acme.contains(s), "{s}: {acme}");
    }
    let (code, _) = http("GET", &format!("{}/tenants/nobody", d.url), &[], b"");
    assert_eq!(code, 404);

    let plan = get(&d, "/plan");
    assert!(plan.contains("Objects changed outside berth (1)"), "{plan}");
    assert!(plan.contains("ResourceQuota/tenant-globex/tenant-quota"));
    assert!(
        plan.contains("spec.hard.pods"),
        "the per-field diff: {plan}"
    );
    let md = get(&d, "/plan.md");
    assert!(md.starts_with("## berth plan"), "{md}");

    let backups = get(&d, "/backups");
    assert!(backups.contains("hourly") && backups.contains("nightly"));
    assert!(backups.contains("(Europe/Berlin)"));

    let trends = get(&d, "/trends");
    assert_eq!(trends.matches("<svg viewBox=\"0 0 360 170\"").count(), 3);
    assert!(trends.contains("<meter"), "acme's quota use: {trends}");

    let (code, head, _) = request("GET", &format!("{}/", d.url), &[], "");
    assert_eq!(code, 200);
    assert!(
        head.contains("script-src") || head.contains("default-src 'none'"),
        "{head}"
    );
    let css = get(&d, "/static/style.css");
    assert!(css.contains("@media"));
}

#[test]
fn without_a_token_the_forms_are_disabled() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state, _) = setup(root.path());
    let d = start(root.path(), &repo, &state, None);
    let page = get(&d, "/propose/tenant");
    assert!(page.contains("Proposals are disabled"), "{page}");
    let origin = d.url.clone();
    let (code, _, _) = request(
        "POST",
        &format!("{}/propose/tenant", d.url),
        &[("Origin", &origin)],
        "name=x&tier=small&action=commit",
    );
    assert_eq!(code, 403);
    let (code, _, _) = request(
        "POST",
        &format!("{}/login", d.url),
        &[("Origin", &origin)],
        "token=",
    );
    assert_eq!(code, 403);
}

/// Signs in over HTTP; the session cookie.
fn sign_in(d: &Daemon) -> String {
    let origin = d.url.clone();
    let (code, _, _) = request(
        "POST",
        &format!("{}/login", d.url),
        &[("Origin", &origin)],
        "token=wrong",
    );
    assert_eq!(code, 401);
    let (code, head, _) = request(
        "POST",
        &format!("{}/login", d.url),
        &[("Origin", &origin)],
        &format!("token={TOKEN}&next=/propose/tenant"),
    );
    assert_eq!(code, 303, "{head}");
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"));
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[test]
fn a_proposal_is_validated_planned_and_committed_to_a_new_branch() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state, token) = setup(root.path());
    let d = start(root.path(), &repo, &state, Some(&token));
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let cookie = sign_in(&d);
    let origin = d.url.clone();
    let (code, _, form) = request(
        "GET",
        &format!("{}/propose/tenant", d.url),
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(code, 200);
    let csrf = csrf_of(&form);
    let url = format!("{}/propose/tenant", d.url);

    // Cross-site and forged requests are refused.
    let body = format!("csrf={csrf}&name=hooli&tier=small&action=commit");
    let (code, _, _) = request(
        "POST",
        &url,
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        &body,
    );
    assert_eq!(code, 403);
    let (code, _, _) = request("POST", &url, &[("Cookie", &cookie)], &body);
    assert_eq!(code, 403, "no Origin nor Referer");
    let (code, _, _) = request(
        "POST",
        &url,
        &[("Cookie", &cookie), ("Origin", &origin)],
        "csrf=00&name=hooli&tier=small&action=commit",
    );
    assert_eq!(code, 403);
    let (code, _, _) = request("POST", &url, &[("Origin", &origin)], &body);
    assert_eq!(code, 401, "no session");

    // A value the validator refuses (the small tier allows one database replica) is shown
    // next to its field; nothing is committed.
    let (code, _, page) = request(
        "POST",
        &url,
        &[("Cookie", &cookie), ("Origin", &origin)],
        &format!("csrf={csrf}&name=hooli&tier=small&replicas=3&action=commit"),
    );
    assert_eq!(code, 422, "{page}");
    assert!(
        page.contains("class=\"err\" data-field=\"replicas\""),
        "{page}"
    );
    assert_eq!(git(&repo, &["branch", "--list", "berth/*"]), "");

    // Preview, then commit.
    let (code, _, page) = request(
        "POST",
        &url,
        &[("Cookie", &cookie), ("Origin", &origin)],
        &format!("csrf={csrf}&name=hooli&display_name=Hooli&tier=medium&admin=gavin%40hooli.example&action=preview"),
    );
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("tenants/hooli.toml") && page.contains("(new file)"));
    assert!(
        page.contains("Namespace//tenant-hooli") || page.contains("tenant-hooli"),
        "{page}"
    );
    let (code, _, page) = request(
        "POST",
        &url,
        &[("Cookie", &cookie), ("Origin", &origin)],
        &format!("csrf={csrf}&name=hooli&display_name=Hooli&tier=medium&admin=gavin%40hooli.example&author_name=Ann&author_email=ann%40example.com&action=commit"),
    );
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("id=\"committed\""), "{page}");
    let branch = "berth/create-tenant-hooli";
    assert_eq!(git(&repo, &["rev-parse", &format!("{branch}^")]), head);
    assert_eq!(
        git(&repo, &["log", "-1", "--format=%an <%ae>|%s", branch]),
        "Ann <ann@example.com>|Create tenant hooli (tier medium)"
    );
    let file = git(&repo, &["show", &format!("{branch}:tenants/hooli.toml")]);
    assert!(
        file.contains("name = \"hooli\"") && file.contains("gavin@hooli.example"),
        "{file}"
    );
    // The working copy, its branch and the cluster are untouched.
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert!(!repo.join("tenants/hooli.toml").exists());
    assert!(d.status()["tenants"].get("hooli").is_none());
    // Until it is merged, the tenant has no page: the link back goes to the overview.
    assert!(page.contains("<a href=\"/\" id=\"back\">"), "{page}");
    // The file's schema line points at the schemas where `berth schema --write schemas`
    // at the root of this repository would put them.
    assert!(
        file.starts_with("#:schema ../schemas/tenant.schema.json\n"),
        "{file}"
    );
    assert!(page.contains("id=\"no-schemas\""), "{page}");

    // The same branch again is refused next to the branch field.
    let (code, _, page) = request(
        "POST",
        &url,
        &[("Cookie", &cookie), ("Origin", &origin)],
        &format!("csrf={csrf}&name=hooli&tier=medium&action=commit"),
    );
    assert_eq!(code, 409, "{page}");
    assert!(page.contains("data-field=\"branch\""), "{page}");
}

/// POSTs a proposal form with a fresh CSRF token from the form page; status and page.
fn propose(d: &Daemon, cookie: &str, form: &str, fields: &str) -> (u16, String) {
    let (code, _, page) = request(
        "GET",
        &format!("{}/propose/{form}", d.url),
        &[("Cookie", cookie)],
        "",
    );
    assert_eq!(code, 200, "{page}");
    let csrf = csrf_of(&page);
    let origin = d.url.clone();
    let (code, _, page) = request(
        "POST",
        &format!("{}/propose/{form}", d.url),
        &[("Cookie", cookie), ("Origin", &origin)],
        &format!("csrf={csrf}&{fields}"),
    );
    (code, page)
}

#[test]
fn a_tenant_form_shows_current_values_and_validates_as_validate_does() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state, token) = setup(root.path());
    let d = start(root.path(), &repo, &state, Some(&token));
    let cookie = sign_in(&d);

    // Without a tenant, the form asks for one; with it, the form shows its values.
    let (_, _, page) = request(
        "GET",
        &format!("{}/propose/change", d.url),
        &[("Cookie", &cookie)],
        "",
    );
    assert!(
        page.contains("method=\"get\" action=\"/propose/change\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"sign-out\""),
        "a way to sign out: {page}"
    );
    let (_, _, page) = request(
        "GET",
        &format!("{}/propose/change?tenant=globex", d.url),
        &[("Cookie", &cookie)],
        "",
    );
    assert!(
        page.contains("<option value=\"medium\" selected>"),
        "the current tier: {page}"
    );
    assert!(page.contains("at most 3 in this tier"), "{page}");

    // Replicas above the tier's maximum: validate's message, next to the field.
    let (code, page) = propose(
        &d,
        &cookie,
        "change?tenant=globex",
        "tenant=globex&tier=medium&cpu=&memory=&storage=&pods=&replicas=9&action=preview",
    );
    assert_eq!(code, 422, "{page}");
    assert!(
        page.contains("class=\"err\" data-field=\"replicas\">database replicas must be between 1 and 3 (tier `medium`), found 9"),
        "{page}"
    );
    assert!(
        !page.contains("would not be valid"),
        "placed at its field: {page}"
    );
    // What `berth validate` says of the same file.
    let copy = root.path().join("by-hand");
    support::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &copy,
    );
    support::edit(
        &copy.join("tenants/globex.toml"),
        "[database]\n",
        "[database]\nreplicas = 9\n",
    );
    let out = support::berth(&["validate", copy.to_str().unwrap()], root.path());
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("database replicas must be between 1 and 3 (tier `medium`), found 9"),
        "{said}"
    );

    // Restores come from the tenant's schedules, members to remove from its members.
    let (_, _, page) = request(
        "GET",
        &format!("{}/propose/restore?tenant=acme", d.url),
        &[("Cookie", &cookie)],
        "",
    );
    assert!(
        page.contains("<select id=\"f-from_schedule\" name=\"from_schedule\"><option value=\"nightly\">nightly</option><option value=\"hourly\">hourly</option></select>"),
        "{page}"
    );
    let (code, page) = propose(
        &d,
        &cookie,
        "remove-member?tenant=acme",
        "tenant=acme&member=acme-developers&action=commit",
    );
    assert_eq!(code, 200, "{page}");
    let file = git(
        &repo,
        &["show", "berth/remove-member-acme:tenants/acme.toml"],
    );
    assert!(
        !file.contains("acme-developers") && file.contains("alice@acme.example"),
        "{file}"
    );
    assert!(
        page.contains("<a href=\"/tenants/acme\" id=\"back\">"),
        "{page}"
    );
    let (code, _) = http("GET", &format!("{}/tenants/acme", d.url), &[], b"");
    assert_eq!(code, 200);
}

/// The source is a plain Git repository with a working tree, given as `--repo`: the daemon
/// fetches it into its cache, and a proposal's branch is written into that repository.
#[test]
fn a_proposal_to_a_repository_with_a_work_tree_lands_there_and_a_refused_push_says_so() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state, token) = setup(root.path());
    fs::write(repo.join("notes.txt"), "not committed\n").unwrap();
    let status_before = git(&repo, &["status", "--porcelain"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let url = repo.to_str().unwrap().to_string();
    let args = [
        "--repo",
        &url,
        "--branch",
        "main",
        "--state-dir",
        state.to_str().unwrap(),
        "--interval",
        "1h",
        "--drift-interval",
        "1h",
        "--dashboard-token-file",
        token.to_str().unwrap(),
    ];
    let d = Daemon::start(&args, root.path(), &[]);
    d.wait(90, "the first sync", || {
        (d.status()["last_sync"]["result"] == "applied").then_some(())
    });
    let cookie = sign_in(&d);

    let (code, page) = propose(
        &d,
        &cookie,
        "tenant",
        "name=hooli&tier=medium&admin=gavin%40hooli.example&action=commit",
    );
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("id=\"committed\""), "{page}");
    let branch = "berth/create-tenant-hooli";
    let log = git(&repo, &["log", "--format=%s", branch]);
    assert_eq!(
        log.lines().next(),
        Some("Create tenant hooli (tier medium)"),
        "{log}"
    );
    assert_eq!(git(&repo, &["rev-parse", &format!("{branch}^")]), head);
    assert!(
        git(&repo, &["show", &format!("{branch}:tenants/hooli.toml")])
            .contains("gavin@hooli.example")
    );
    // The repository's working tree, index and HEAD are untouched.
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&repo, &["branch", "--show-current"]), "main");
    assert_eq!(git(&repo, &["status", "--porcelain"]), status_before);
    assert!(!repo.join("tenants/hooli.toml").exists());
    // The new tenant has no page until the branch is merged: the way back is the overview.
    assert!(
        page.contains("<a href=\"/\" id=\"back\">Back to the overview</a>"),
        "{page}"
    );
    assert!(!page.contains("href=\"/tenants/hooli\""), "{page}");

    // A branch of that name exists there already: a push failure, with the form kept.
    git(&repo, &["branch", "berth/member-acme"]);
    let (code, page) = propose(
        &d,
        &cookie,
        "member?tenant=acme",
        "tenant=acme&name=ops&kind=Group&role=viewer&action=commit",
    );
    assert_eq!(code, 502, "{page}");
    assert!(page.contains("id=\"push-failed\""), "{page}");
    assert!(
        page.contains("The push failed:</strong> cannot push `berth/member-acme`"),
        "{page}"
    );
    assert!(page.contains("exists already there"), "{page}");
    assert!(!page.contains("would not be valid"), "{page}");
    assert!(
        page.contains("name=\"name\" value=\"ops\""),
        "the form is kept: {page}"
    );
    assert_eq!(
        git(&repo, &["rev-parse", "berth/member-acme"]),
        head,
        "not moved"
    );
    assert!(d.log().contains("pushing a proposal failed"), "{}", d.log());
    // The name can be used again once it is free.
    git(&repo, &["branch", "-D", "berth/member-acme"]);
    let (code, page) = propose(
        &d,
        &cookie,
        "member?tenant=acme",
        "tenant=acme&name=ops&kind=Group&role=viewer&action=commit",
    );
    assert_eq!(code, 200, "{page}");
    assert!(git(&repo, &["show", "berth/member-acme:tenants/acme.toml"]).contains("name = \"ops\""));
}

/// A remote that refuses the branch (a server-side hook behind Git's smart HTTP): the page
/// says the push failed and why, with the form as filled in; nothing is left on the remote.
#[test]
fn a_push_the_remote_refuses_is_shown_as_a_push_failure() {
    use std::os::unix::fs::PermissionsExt as _;
    let repo = support::git::Repo::examples();
    let hook = repo.remote().join("hooks/pre-receive");
    fs::write(
        &hook,
        "#!/bin/sh\necho 'new branches need a ticket' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let server = support::git_http::GitHttp::start(repo.dir.path(), "glpat-dashboard-push");
    let git_token = repo.dir.path().join("git-token");
    fs::write(&git_token, "glpat-dashboard-push\n").unwrap();
    let token = repo.dir.path().join("dashboard-token");
    fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let d = repo.daemon(
        &server.url("remote.git"),
        "1h",
        &[
            "--git-token-file",
            git_token.to_str().unwrap(),
            "--dashboard-token-file",
            token.to_str().unwrap(),
        ],
    );
    d.wait(90, "the first sync", || {
        (d.status()["last_sync"]["result"] == "applied").then_some(())
    });
    let cookie = sign_in(&d);
    let (code, page) = propose(
        &d,
        &cookie,
        "member?tenant=acme",
        "tenant=acme&name=ops&kind=Group&role=viewer&action=commit",
    );
    assert_eq!(code, 502, "{page}");
    assert!(page.contains("id=\"push-failed\""), "{page}");
    assert!(page.contains("cannot push `berth/member-acme`"), "{page}");
    assert!(
        page.contains("hook declined"),
        "the remote's reason: {page}"
    );
    assert!(!page.contains("would not be valid"), "{page}");
    assert!(!page.contains("glpat-dashboard-push"), "no secret: {page}");
    assert!(
        page.contains("name=\"name\" value=\"ops\""),
        "the form is kept: {page}"
    );
    assert_eq!(git(&repo.remote(), &["branch", "--list", "berth/*"]), "");
    assert!(d.log().contains("pushing a proposal failed"), "{}", d.log());
}

// --- The browser test -----------------------------------------------------------------------

/// A chromedriver process and one headless Chromium session.
struct Browser {
    driver: std::process::Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (after a loud message) when Chromium or chromedriver is missing and `CI` is not
    /// set; with `CI` set, a missing browser fails the test.
    fn start() -> Option<Browser> {
        let find = |names: &[&str]| -> Option<PathBuf> {
            let paths = std::env::var_os("PATH")?;
            names.iter().find_map(|n| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(n))
                    .find(|p| p.exists())
            })
        };
        let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
        let driver = find(&["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let msg = "chromium and chromedriver are needed for the dashboard's browser test: apt-get install -y chromium chromium-driver";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("\n!!!!!!!!!! SKIPPED the browser test: {msg} !!!!!!!!!!\n");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        support::wait_for(30, "chromedriver", || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .and_then(|_| {
                    let (code, _, body) = request_as(
                        "GET",
                        &format!("{base}/status"),
                        &[],
                        "",
                        "application/json",
                    );
                    (code == 200 && body.contains("\"ready\":true")).then_some(())
                })
        });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_str().unwrap(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.path().display()),
                         "--window-size=1280,1400"]
            }
        }}});
        let mut b = Browser {
            driver: child,
            base,
            session: String::new(),
            _profile: profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().expect("a session").to_string();
        Some(b)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = if path == "/session" {
            path.to_string()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (code, _, text) = request_as(
            method,
            &format!("{}{path}", self.base),
            &[],
            &body,
            "application/json",
        );

        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(code, 200, "WebDriver {method} {path}: {text}");
        v["value"].clone()
    }

    /// Opens `url` and returns its source once the whole page has been parsed. Under load,
    /// chromedriver can answer the navigation (and even a first `/source`) before the new
    /// document is complete, so this waits for the last element every page ends with.
    fn go(&self, url: &str) -> String {
        self.call("POST", "/url", Some(json!({"url": url})));
        support::wait_for(10, &format!("the browser to be at {url}"), || {
            (self.call("GET", "/url", None).as_str() == Some(url)).then_some(())
        });
        self.wait_page(&format!("{url} to load"), |p| {
            p.contains("<p class=\"meta\">")
        })
    }

    fn ready_state(&self) -> String {
        let v = self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return document.readyState", "args": []})),
        );
        v.as_str().unwrap_or_default().to_string()
    }

    fn source(&self) -> String {
        self.call("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The page source once `ready` holds for it (a click that submits a form returns before
    /// the next page has loaded).
    fn wait_page(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..200 {
            last = self.source();
            if ready(&last) && self.ready_state() == "complete" {
                return last;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; page:\n{last}");
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn text_of(&self, css: &str) -> String {
        let el = self.find(css);
        self.call("GET", &format!("/element/{el}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.call(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let el = self.find(css);
        self.call("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    fn size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshots_dir();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request_as(
                "DELETE",
                &format!("{}/session/{}", self.base, self.session),
                &[],
                "",
                "application/json",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/dashboard-screenshots/`.
fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("dashboard-screenshots")
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn in_a_real_browser_every_page_reads_and_a_tenant_can_be_proposed() {
    let Some(b) = Browser::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let (repo, state, token) = setup(root.path());
    let d = start(root.path(), &repo, &state, Some(&token));
    seed_cluster(&state);
    wait_for_observation(&d);

    let page = b.go(&format!("{}/", d.url));
    assert!(
        page.contains("database 3/5 ready") && page.contains("1 drifted"),
        "{page}"
    );
    assert!(b.text_of("tr[data-tenant=\"acme\"]").contains("3/5 ready"));
    b.screenshot("overview");
    // Search through the form, as a person would.
    b.type_into("#q", "initech");
    b.click("form.filter button");
    b.wait_page("the search result", |p| {
        p.contains("data-tenant=\"initech\"") && !p.contains("data-tenant=\"acme\"")
    });

    let page = b.go(&format!("{}/tenants/acme", d.url));
    assert!(page.contains("ACME Corporation") && page.contains("3/5 ready"));
    b.screenshot("tenant-acme");
    let page = b.go(&format!("{}/plan", d.url));
    assert!(page.contains("Objects changed outside berth (1)"));
    b.screenshot("plan");
    let page = b.go(&format!("{}/backups", d.url));
    assert!(page.contains("nightly"));
    b.screenshot("backups");
    let page = b.go(&format!("{}/trends", d.url));
    assert!(page.contains("Sync duration"));
    b.screenshot("trends");
    for p in ["/", "/tenants/acme", "/plan", "/backups", "/trends"] {
        assert!(!b.go(&format!("{}{p}", d.url)).contains(SECRET_B64));
    }

    // A phone.
    b.size(390, 844);
    b.go(&format!("{}/", d.url));
    b.screenshot("overview-phone");
    b.size(1280, 1400);

    // Propose a tenant: sign in, fill in the form, preview, commit.
    let page = b.go(&format!("{}/propose/tenant", d.url));
    assert!(page.contains("Sign in"), "{page}");
    b.type_into("#token", TOKEN);
    b.click("form[action=\"/login\"] button");
    b.wait_page("the form after signing in", |p| p.contains("name=\"csrf\""));
    b.type_into("#f-name", "hooli");
    b.type_into("#f-display_name", "Hooli XYZ");
    b.click("#f-tier option[value=\"medium\"]");
    b.type_into("#f-admin", "gavin@hooli.example");
    b.click("button[value=\"preview\"]");
    b.wait_page("the preview", |p| {
        p.contains("Valid.") && p.contains("tenants/hooli.toml")
    });
    b.screenshot("propose-preview");
    b.click("button[value=\"commit\"]");
    b.wait_page("the commit", |p| p.contains("id=\"committed\""));
    b.screenshot("propose-committed");
    let commit = b.text_of("code.commit");
    assert_eq!(
        git(&repo, &["rev-parse", "berth/create-tenant-hooli"]),
        commit
    );
    let file = git(
        &repo,
        &["show", "berth/create-tenant-hooli:tenants/hooli.toml"],
    );
    assert!(file.contains("display_name = \"Hooli XYZ\""), "{file}");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    // A tenant's form, from its page: its current values filled in.
    b.go(&format!("{}/tenants/acme", d.url));
    b.click("a[href=\"/propose/change?tenant=acme\"]");
    let page = b.wait_page("the change form", |p| p.contains("name=\"csrf\""));
    assert!(page.contains("<option value=\"large\" selected"), "{page}");
    assert!(page.contains("id=\"sign-out\""), "{page}");
    b.screenshot("propose-change");
    eprintln!("screenshots in {}", screenshots_dir().display());
}

/// Starts the daemon on `repo` with a state directory that already holds what an earlier
/// run left, and waits until it is ready (its first sync may change nothing).
fn restart(root: &Path, repo: &Path, state: &Path) -> Daemon {
    let d = Daemon::on_dir(repo, state, root, "1s", &[]);
    d.wait(90, "the daemon to be ready", || {
        (http("GET", &format!("{}/readyz", d.url), &[], b"").0 == 200).then_some(())
    });
    d
}

/// Quota use is sampled every cycle and kept in the state directory: after a restart the
/// tenant's chart still has the samples from before it, next to the new ones.
#[test]
fn usage_samples_survive_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let (repo, state, _) = setup(root.path());
    let d = start(root.path(), &repo, &state, None);
    seed_cluster(&state);
    // acme uses 20 of 48 CPUs: 41.7 %.
    let before = "41.7% requests.cpu";
    d.wait(60, "two samples of acme's quota use", || {
        let page = get(&d, "/tenants/acme");
        (page.contains("Use against quota over time") && page.contains(before)).then_some(())
    });
    let saved = fs::read_to_string(state.join("dashboard-usage.json")).unwrap();
    assert!(
        saved.contains("\"acme\"") && saved.contains("requests.cpu"),
        "{saved}"
    );
    assert!(d.terminate().success());

    // While the daemon is down, acme's use grows to 30 of 48: 62.5 %.
    let store = ObjectStore::open(state.join("local.sqlite3")).unwrap();
    store
        .merge_status(
            "ResourceQuota",
            "tenant-acme",
            "tenant-quota",
            &json!({"used": {"requests.cpu": "30"}}),
        )
        .unwrap();
    drop(store);
    let d = restart(root.path(), &repo, &state);
    let page = d.wait(60, "a sample after the restart", || {
        let page = get(&d, "/tenants/acme");
        page.contains("62.5% requests.cpu").then_some(page)
    });
    assert!(
        page.contains(before),
        "the samples from before the restart: {page}"
    );
}

/// The daemon on a Kubernetes API server that serves the metrics API: pod usage per tenant
/// (one LIST of PodMetrics per cycle) on the tenant page and the trends page; a cluster
/// without the API is skipped quietly; a failing metrics call is a warning, not a failed sync.
#[test]
fn pod_usage_comes_from_the_metrics_api_with_one_list_per_cycle() {
    let server =
        kube_emulator::ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    // No quota controller writes `used` here: the page reads the quota as set.
    server.controllers().pause();
    server.set_pod_metrics("tenant-acme", "db-0", &[("kwdb", "1500m", "2Gi")]);
    server.set_pod_metrics(
        "tenant-acme",
        "db-1",
        &[
            ("kwdb", "499000000n", "1048576Ki"),
            ("exporter", "1000000n", "0"),
        ],
    );
    server.set_pod_metrics("kube-system", "coredns-0", &[("coredns", "3", "1Gi")]);
    let dir = support::examples_on_kube(&server);
    let repo = dir.path().join("repo");
    let state = dir.path().join("state");
    let d = Daemon::on_dir(&repo, &state, dir.path(), "1s", &[]);
    d.wait(90, "the first sync", || {
        (d.status()["last_sync"]["result"] == "applied").then_some(())
    });
    // acme: 2 cores of its 48, 3 GiB of 128 GiB.
    let page = d.wait(30, "acme's pod usage", || {
        let page = get(&d, "/tenants/acme");
        page.contains("2 pods measured").then_some(page)
    });
    // For a look at it: target/tmp/tenant-pods.html.
    let _ = fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("tenant-pods.html"),
        &page,
    );
    assert!(
        page.contains("<td>cpu</td><td>2.00 cores</td><td>48</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>memory</td><td>3.0 GiB</td><td>128Gi</td>"),
        "{page}"
    );
    let trends = get(&d, "/trends");
    assert!(trends.contains("2.00 / 48"), "{trends}");
    // Two cycles later the tenant page charts it against the quota (2 of 48 cores: 4.2 %).
    d.wait(30, "a chart of acme's pod usage", || {
        get(&d, "/tenants/acme")
            .contains("4.2% cpu in use</title>")
            .then_some(())
    });
    let metrics = d.metrics();
    assert!(
        metrics.contains("berth_tenant_pod_usage{tenant=\"acme\",resource=\"cpu\"} 2\n")
            && metrics.contains(
                "berth_tenant_quota_hard{tenant=\"acme\",resource=\"requests.cpu\"} 48\n"
            )
            && !metrics.contains("berth_tenant_quota_used{tenant=\"acme\""),
        "no quota controller: hard, no used: {metrics}"
    );
    // globex runs no measured pod.
    assert!(get(&d, "/tenants/globex").contains("0 pods measured"));

    // Without the metrics API: skipped, no warning.
    server.set_metrics_api(false);
    d.wait(30, "the page to say the API is not served", || {
        get(&d, "/tenants/acme")
            .contains("does not serve the metrics API")
            .then_some(())
    });
    assert!(
        !d.log().contains("cannot read the metrics API"),
        "{}",
        d.log()
    );

    // A failing metrics call: a warning and a notice; the sync is not failed.
    server.set_metrics_api(true);
    server
        .faults()
        .fail_matching("GET", "/apis/metrics.k8s.io/v1beta1/pods", 1000, 500);
    d.wait(30, "the notice", || {
        get(&d, "/tenants/acme")
            .contains("could not be read")
            .then_some(())
    });
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("cannot read the metrics API")),
        "{log}"
    );
    let status = d.status();
    assert_eq!(status["tenants"]["acme"]["last_result"], "ok", "{status}");
    assert!(d.terminate().success());

    // One LIST of PodMetrics per cycle that observed the cluster: as many as the LISTs of all
    // StatefulSets berth owns (the re-observation after an apply selects by tenant).
    let log = server.request_log();
    // A 500 is transient and retried within its cycle: only the answered LISTs count.
    let metrics_lists = log
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/apis/metrics.k8s.io/v1beta1/pods")
        .filter(|r| r.status != 500)
        .count();
    let retried = log
        .iter()
        .filter(|r| r.path == "/apis/metrics.k8s.io/v1beta1/pods" && r.status == 500)
        .count();
    assert!(retried >= 2, "a failing metrics LIST is retried: {retried}");
    let cycles = log
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path == "/apis/apps/v1/statefulsets"
                && !r.query.contains("tenant")
        })
        .count();
    assert!(cycles >= 3, "{cycles}");
    assert!(
        metrics_lists <= cycles && metrics_lists >= 2,
        "{metrics_lists} metrics LISTs in {cycles} cycles"
    );
    // While the API was switched off, one LIST found it gone (404) and the daemon looked the
    // API up again rather than asking every cycle.
    let gone = log
        .iter()
        .filter(|r| r.path == "/apis/metrics.k8s.io/v1beta1/pods" && r.status == 404)
        .count();
    assert!(gone <= 1, "{gone} LISTs of a withdrawn metrics API");
    let per_cycle_max = log
        .split(|r| r.path == "/apis/apps/v1/statefulsets" && !r.query.contains("tenant"))
        .map(|chunk| {
            chunk
                .iter()
                .filter(|r| r.path == "/apis/metrics.k8s.io/v1beta1/pods" && r.status != 500)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(
        per_cycle_max, 1,
        "never more than one answered metrics LIST per cycle"
    );
}

/// A `prometheus` process, killed when dropped.
struct Prometheus {
    child: std::process::Child,
    url: String,
    log: PathBuf,
}

impl Prometheus {
    /// `None` (after a loud message) when the binary is missing and `CI` is not set; with
    /// `CI` set, a missing Prometheus fails the test.
    fn find() -> Option<PathBuf> {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("prometheus"))
                .find(|p| p.is_file())
        });
        if found.is_none() {
            let msg = "prometheus is needed for the dashboard's Prometheus test: apt-get install -y prometheus";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("\n!!!!!!!!!! SKIPPED the Prometheus test: {msg} !!!!!!!!!!\n");
        }
        found
    }

    /// Starts `bin` on `port`, scraping `target` (`host:port`) every second.
    fn start(bin: &Path, dir: &Path, port: u16, target: &str) -> Prometheus {
        let config = dir.join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: berth\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// The value of an instant query with one result, when it has one.
    fn value(&self, promql: &str) -> Option<f64> {
        let path = format!(
            "{}/api/v1/query?query={}",
            self.url,
            berth::daemon::dashboard::html::url_encode(promql)
        );
        // Not listening yet: no answer (rather than a panic in `http`).
        std::net::TcpStream::connect(self.url.trim_start_matches("http://")).ok()?;
        let (code, body) = http("GET", &path, &[], b"");
        let v: Value = serde_json::from_str(&body).ok()?;
        if code != 200 || v["status"] != "success" {
            return None;
        }
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    fn wait_for(&self, what: &str, promql: &str, ok: impl Fn(f64) -> bool) -> f64 {
        support::wait_or(
            90,
            what,
            || self.value(promql).filter(|v| ok(*v)),
            || fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Prometheus scrapes the daemon's `/metrics` every second; the trends page reads
/// `?range=6h` from it (sync duration, drift, per-tenant quota use), and shows a notice,
/// not an error page, once Prometheus is gone.
#[test]
fn trends_read_longer_ranges_from_a_real_prometheus() {
    let Some(bin) = Prometheus::find() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (repo, state, _) = setup(root.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut platform = fs::read_to_string(repo.join("platform.toml")).unwrap();
    platform.push_str(&format!(
        "\n[dashboard]\nprometheus_url = \"http://127.0.0.1:{port}\"\n"
    ));
    fs::write(repo.join("platform.toml"), platform).unwrap();
    git(&repo, &["commit", "-q", "-am", "Trends from Prometheus"]);
    let d = start(root.path(), &repo, &state, None);
    seed_cluster(&state);
    wait_for_observation(&d);
    let metrics = d.metrics();
    assert!(
        metrics.contains("berth_tenant_quota_used{tenant=\"acme\",resource=\"requests.cpu\"} 20\n")
            && metrics.contains(
                "berth_tenant_quota_hard{tenant=\"acme\",resource=\"requests.memory\"} 137438953472\n"
            ),
        "{metrics}"
    );

    let prom_dir = root.path().join("prometheus");
    fs::create_dir_all(&prom_dir).unwrap();
    let target = d.url.trim_start_matches("http://").to_string();
    let prom = Prometheus::start(&bin, &prom_dir, port, &target);
    prom.wait_for(
        "Prometheus to have acme's quota use",
        "berth_tenant_quota_used{tenant=\"acme\",resource=\"requests.cpu\"}",
        |v| v == 20.0,
    );
    prom.wait_for("the drift", "berth_drifted_objects", |v| v == 1.0);
    // A sync while Prometheus watches (a file saved in the directory source), so that the
    // duration histogram grows in range.
    let syncs = prom.wait_for(
        "a scrape of the histogram",
        "berth_sync_duration_seconds_count",
        |_| true,
    );
    let initech = repo.join("tenants/initech.toml");
    let text = fs::read_to_string(&initech).unwrap();
    fs::write(&initech, format!("{text}\n# touched\n")).unwrap();
    prom.wait_for(
        "the new sync scraped",
        "berth_sync_duration_seconds_count",
        |v| v > syncs,
    );
    // ... and scraped again after it, so that `increase` sees it.
    std::thread::sleep(std::time::Duration::from_secs(2));

    let page = get(&d, "/trends?range=6h");
    // For a look at it: target/tmp/trends-prometheus.html.
    let _ = fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("trends-prometheus.html"),
        &page,
    );
    assert!(
        page.contains("data-source=\"prometheus\""),
        "read from Prometheus: {page}"
    );
    assert!(!page.contains("prometheus-errors"), "{page}");
    let chart = |key: &str| -> String {
        let at = page
            .find(&format!("data-chart=\"{key}\""))
            .unwrap_or_else(|| panic!("no {key} chart: {page}"));
        page[at..].split("</div>").next().unwrap().to_string()
    };
    // acme's fullest quota is memory: 80Gi of 128Gi.
    assert!(
        chart("quota").contains("62.5% acme</title>"),
        "{}",
        chart("quota")
    );
    assert!(
        chart("drift").contains(": 1 drifted</title>"),
        "{}",
        chart("drift")
    );
    assert!(
        chart("duration").contains(" duration</title>"),
        "a sync's duration: {}",
        chart("duration")
    );
    assert!(page.contains("aria-current=\"page\">6 hours</a>"));
    let css = get(&d, "/static/style.css");
    assert!(css.contains("nav.ranges"));

    drop(prom);
    let page = get(&d, "/trends?range=7d");
    assert!(
        page.contains("id=\"prometheus-errors\"") && page.contains("cannot reach Prometheus at"),
        "{page}"
    );
    assert!(
        page.contains("Sync duration"),
        "the daemon's own history instead: {page}"
    );
    assert!(d.log().contains("reading trends from Prometheus"));
}
