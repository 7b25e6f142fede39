//! `examples/ci/`: the GitHub Actions workflow and the GitLab CI pipeline pass their official
//! schemas, and their shell steps, run with bash as the runners run them and with `berth` on
//! PATH, do what they say: plan a pull request offline (a fork) or against the cluster, keep
//! the plan as Markdown, post it as a merge request note, fail on an error but not on
//! changes, and apply on merge.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth::store::ObjectStore;
use kube_emulator::ApiServer;
use serde_json::Value;
use support::git::Repo;
use support::CONTEXT;

fn example(name: &str) -> (PathBuf, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/ci")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, serde_norway::from_str(&text).unwrap())
}

/// The `run:` script of the step named `name` of a GitHub Actions job.
fn github_step(workflow: &Value, job: &str, name: &str) -> String {
    workflow["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in job {job}"))["run"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The input `key` (under `with:`) of the step named `name` of a GitHub Actions job.
fn github_step_with(workflow: &Value, job: &str, name: &str, key: &str) -> String {
    workflow["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in job {job}"))["with"][key]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs an `actions/github-script` script with node in `dir`: the body of an async function
/// with `require`, a `context` for pull request 17 of acme-corp/platform-config, and a
/// `github` client whose `rest.issues.createComment` records its arguments. Returns the
/// calls recorded.
fn run_github_script(script: &str, dir: &Path) -> Value {
    let program = format!(
        "const calls = [];\n\
         const github = {{ rest: {{ issues: {{ createComment: async (args) => {{ calls.push(args); return {{ status: 201 }}; }} }} }} }};\n\
         const context = {{ repo: {{ owner: 'acme-corp', repo: 'platform-config' }}, issue: {{ number: 17 }} }};\n\
         (async () => {{\n{script}\n}})().then(\n\
           () => process.stdout.write(JSON.stringify(calls)),\n\
           (e) => {{ console.error(e); process.exit(1); }});\n"
    );
    let out = Command::new("node")
        .args(["-e", &program])
        .current_dir(dir)
        .output()
        .expect("node is installed (.ci/run installs nodejs)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `script:` of a GitLab CI job as the runner runs it: one shell, line after line.
fn gitlab_script(pipeline: &Value, job: &str) -> String {
    pipeline[job]["script"]
        .as_array()
        .unwrap_or_else(|| panic!("no job {job}"))
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

struct Step {
    code: i32,
    output: String,
}

/// Runs `script` with bash the way both runners do (`-eo pipefail`), in `dir`, with the
/// `berth` under test first on PATH and only the variables `env` set besides.
fn run_step(script: &str, dir: &Path, env: &[(&str, &str)]) -> Step {
    // HOME apart from the checkout, as on a runner (berth's default state directory is
    // under it, and may not be inside the config repository).
    let home = tempfile::tempdir().unwrap();
    let bin_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(support::bin(), bin_dir.path().join("berth")).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Step {
        code: out.status.code().unwrap_or(-1),
        output: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

/// The examples in a Git repository whose cluster `local` is the kubeconfig context
/// [`CONTEXT`] (the kubeconfig comes from CI secrets), then a second commit that changes
/// tenant acme. Returns the repository and the first commit (a pull request's base).
fn pull_request() -> (Repo, String) {
    let repo = Repo::examples();
    repo.edit(
        "platform.toml",
        "[clusters.local]\ndescription = \"embedded local cluster\"",
        &format!("[clusters.local]\ncontext = \"{CONTEXT}\""),
    );
    let base = repo.commit("the cluster is reached through the CI's kubeconfig");
    repo.edit("tenants/acme.toml", "replicas = 5", "replicas = 3");
    repo.commit("acme: 3 replicas");
    (repo, base)
}

/// `server`'s kubeconfig, pointing at a port nothing listens on.
fn unreachable_kubeconfig(server: &ApiServer) -> String {
    server
        .kubeconfig(CONTEXT)
        .replace(&server.url(), "http://127.0.0.1:9")
}

/// The step applied the whole of examples/ to an empty cluster.
fn assert_applied_everything(step: &Step) {
    assert_eq!(step.code, 0, "{}", step.output);
    assert!(
        step.output
            .contains("Apply complete! Resources: 40 added, 0 changed, 0 destroyed."),
        "{}",
        step.output
    );
}

fn base64(text: &str) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

#[test]
fn ci_examples_pass_the_official_github_and_gitlab_schemas() {
    for (file, schema) in [
        ("github-actions.yml", "vendor.github-workflows"),
        ("gitlab-ci.yml", "vendor.gitlab-ci"),
    ] {
        let (path, _) = example(file);
        let out = Command::new(support::check_jsonschema())
            .args(["--builtin-schema", schema])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file} against {schema}:\n{text}");
        assert!(text.contains("ok -- validation done"), "{text}");
    }
}

#[test]
fn github_plan_step_plans_a_fork_offline_and_others_against_the_cluster() {
    let (_, workflow) = example("github-actions.yml");
    let (repo, base) = pull_request();
    let work = repo.work();
    let temp = tempfile::tempdir().unwrap();
    let summary = temp.path().join("summary.md");
    let runner = temp.path().display().to_string();
    let summary_path = summary.display().to_string();

    let validate = run_step(&github_step(&workflow, "plan", "Validate"), &work, &[]);
    assert_eq!(validate.code, 0, "{}", validate.output);
    assert!(validate.output.contains("is valid"), "{}", validate.output);

    // A fork: no secrets, no cluster. The plan is what the pull request changes.
    let plan = github_step(&workflow, "plan", "Plan");
    let step = run_step(
        &plan,
        &work,
        &[
            ("FORK", "true"),
            ("BASE", &base),
            ("KUBECONFIG_B64", ""),
            ("RUNNER_TEMP", &runner),
            ("GITHUB_STEP_SUMMARY", &summary_path),
        ],
    );
    assert_eq!(step.code, 0, "changes are not a failure: {}", step.output);
    let md = std::fs::read_to_string(work.join("plan.md")).unwrap();
    assert!(md.contains("spec.replicas"), "{md}");
    assert!(md.contains("0 to add, 1 to change, 0 to destroy"), "{md}");
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), md);

    // The comment step's script, run with node the way actions/github-script runs it (an
    // async function given `github`, `context` and `require`), against a stub of the GitHub
    // client: one comment on the pull request, whose body is exactly plan.md.
    let comment = run_github_script(
        &github_step_with(&workflow, "plan", "Comment the plan", "script"),
        &work,
    );
    assert_eq!(
        comment,
        serde_json::json!([{
            "owner": "acme-corp",
            "repo": "platform-config",
            "issue_number": 17,
            "body": md,
        }])
    );

    // Same repository: the kubeconfig from the secret, the plan against the cluster (empty:
    // everything is to add).
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let kubeconfig = base64(&server.kubeconfig(CONTEXT));
    std::fs::remove_file(&summary).unwrap();
    let step = run_step(
        &plan,
        &work,
        &[
            ("FORK", "false"),
            ("BASE", &base),
            ("KUBECONFIG_B64", &kubeconfig),
            ("RUNNER_TEMP", &runner),
            ("GITHUB_STEP_SUMMARY", &summary_path),
        ],
    );
    assert_eq!(step.code, 0, "{}", step.output);
    let md = std::fs::read_to_string(work.join("plan.md")).unwrap();
    assert!(md.contains("40 to add, 0 to change, 0 to destroy"), "{md}");
    assert!(
        server.request_log().iter().all(|r| r.method == "GET"),
        "a plan writes nothing"
    );

    // An error (here an unreachable cluster) fails the step.
    let unreachable = base64(&unreachable_kubeconfig(&server));
    let step = run_step(
        &plan,
        &work,
        &[
            ("FORK", "false"),
            ("KUBECONFIG_B64", &unreachable),
            ("RUNNER_TEMP", &runner),
            ("GITHUB_STEP_SUMMARY", &summary_path),
        ],
    );
    assert_eq!(step.code, 1, "{}", step.output);
    assert!(step.output.contains("local"), "{}", step.output);

    // On merge: apply with the kubeconfig from the secret.
    let apply = github_step(&workflow, "apply", "Apply");
    let step = run_step(
        &apply,
        &work,
        &[("KUBECONFIG_B64", &kubeconfig), ("RUNNER_TEMP", &runner)],
    );
    assert_applied_everything(&step);
}

/// One HTTP request as a server saw it.
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Answers one request on a loopback port with 201 and `{}`; the request comes back through
/// the handle.
fn one_request_server() -> (String, std::thread::JoinHandle<Request>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .unwrap();
        Request {
            line: line.trim_end().to_string(),
            headers,
            body,
        }
    });
    (url, handle)
}

#[test]
fn gitlab_plan_job_posts_the_plan_as_a_merge_request_note_and_apply_applies() {
    let (_, pipeline) = example("gitlab-ci.yml");
    let (repo, base) = pull_request();
    let work = repo.work();
    let plan = gitlab_script(&pipeline, "plan");

    // A merge request from a fork: no kubeconfig, so planned offline; with a token, the plan
    // is posted as a note.
    let (api, request) = one_request_server();
    let api = format!("{api}/api/v4");
    let step = run_step(
        &plan,
        &work,
        &[
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base),
            ("GITLAB_API_TOKEN", "glpat-test-token"),
            ("CI_API_V4_URL", &api),
            ("CI_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
        ],
    );
    assert_eq!(step.code, 0, "{}", step.output);
    let md = std::fs::read_to_string(work.join("plan.md")).unwrap();
    assert!(md.contains("0 to add, 1 to change, 0 to destroy"), "{md}");
    let request = request.join().unwrap();
    assert_eq!(
        request.line,
        "POST /api/v4/projects/42/merge_requests/7/notes HTTP/1.1"
    );
    assert!(
        request
            .headers
            .contains(&("private-token".into(), "glpat-test-token".into())),
        "{:?}",
        request.headers
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    assert_eq!(form, vec![("body".to_string(), md.clone())]);

    // With the kubeconfig variable: planned against the cluster; no token, no note.
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::write_kubeconfig(dir.path(), &server);
    let kubeconfig = kubeconfig.display().to_string();
    let step = run_step(
        &plan,
        &work,
        &[
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base),
            ("KUBECONFIG_FILE", &kubeconfig),
        ],
    );
    assert_eq!(step.code, 0, "{}", step.output);
    let md = std::fs::read_to_string(work.join("plan.md")).unwrap();
    assert!(md.contains("40 to add, 0 to change, 0 to destroy"), "{md}");

    // An unreachable cluster is an error: the job fails.
    let broken = dir.path().join("broken-kubeconfig");
    std::fs::write(&broken, unreachable_kubeconfig(&server)).unwrap();
    let broken = broken.display().to_string();
    let step = run_step(
        &plan,
        &work,
        &[
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base),
            ("KUBECONFIG_FILE", &broken),
        ],
    );
    assert_eq!(step.code, 1, "{}", step.output);
    assert!(step.output.contains("local"), "{}", step.output);

    // On the default branch: apply.
    let step = run_step(
        &gitlab_script(&pipeline, "apply"),
        &work,
        &[("KUBECONFIG_FILE", &kubeconfig)],
    );
    assert_applied_everything(&step);
}
