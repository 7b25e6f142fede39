//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod git;
pub mod git_http;
pub mod sshd;

/// What a run of the binary printed.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The `berth` binary under test: `$BERTH_TEST_BIN` when set (a copy made for one test run,
/// so that a concurrent build cannot swap it mid-run), else the one cargo built.
pub fn bin() -> PathBuf {
    std::env::var_os("BERTH_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth")))
}

/// Runs the `berth` binary in `dir` with colours and user environment switched off.
pub fn berth(args: &[&str], dir: &Path) -> Run {
    berth_with(args, dir, &[], &[])
}

/// Like [`berth`], with the variables `set` set and the variables `unset` removed.
pub fn berth_with(args: &[&str], dir: &Path, set: &[(&str, &str)], unset: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("BERTH_STATE_DIR");
    for var in unset {
        cmd.env_remove(var);
    }
    let out = cmd.envs(set.iter().copied()).output().expect("run berth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// insta filters that make times and ages in output stable: RFC 3339 times become `[time]`.
pub const TIME_FILTERS: &[(&str, &str)] = &[(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]")];

/// Replaces the first `from` in the file at `path` with `to`; `from` must be there.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A temporary copy of `tests/fixtures/base`, with `tests/fixtures/invalid/<overlay>` laid
/// over it: its files replace or add files; a file named `<path>.delete` deletes `<path>`.
pub fn fixture_repo(overlay: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixtures().join("base"), dir.path());
    if let Some(name) = overlay {
        let src = fixtures().join("invalid").join(name);
        assert!(src.is_dir(), "no fixture {}", src.display());
        copy_tree(&src, dir.path());
    }
    dir
}

/// Copies a directory tree, applying `.delete` markers.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if let Some(victim) = name.strip_suffix(".delete") {
            let _ = fs::remove_file(to.join(victim));
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The `kubernetes-validate` executable: from `$BERTH_VALIDATE_VENV` (set by
/// scripts/test.sh), else from PATH. Panics with instructions when it is missing.
pub fn kubernetes_validate() -> PathBuf {
    validator("kubernetes-validate")
}

/// The `check-jsonschema` executable, found like [`kubernetes_validate`].
pub fn check_jsonschema() -> PathBuf {
    validator("check-jsonschema")
}

fn validator(name: &str) -> PathBuf {
    if let Some(venv) = std::env::var_os("BERTH_VALIDATE_VENV") {
        let p = Path::new(&venv).join("bin").join(name);
        if p.exists() {
            return p;
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("{name} not found: run the tests with scripts/test.sh, which installs it")
}

/// Context name in kubeconfig files written by [`write_kubeconfig`].
pub const CONTEXT: &str = "test-ctx";

/// Writes the kubeconfig of the test API server (context [`CONTEXT`]) into `dir`.
pub fn write_kubeconfig(dir: &Path, server: &kube_emulator::ApiServer) -> PathBuf {
    let path = dir.join("kubeconfig");
    fs::write(&path, server.kubeconfig(CONTEXT)).expect("write kubeconfig");
    path
}

/// A copy of `examples/` whose `local` cluster is the test API server `server` (reached
/// through a kubeconfig file written next to it) instead of the embedded store.
pub fn examples_on_kube(server: &kube_emulator::ApiServer) -> tempfile::TempDir {
    examples_with_kubeconfig(&server.kubeconfig(CONTEXT))
}

/// A copy of `examples/` whose `local` cluster is reached through `kubeconfig` (a kubeconfig
/// text whose context is [`CONTEXT`], written next to the copy).
pub fn examples_with_kubeconfig(kubeconfig: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &repo,
    );
    let kubeconfig_path = dir.path().join("kubeconfig");
    fs::write(&kubeconfig_path, kubeconfig).expect("write kubeconfig");
    let kubeconfig = kubeconfig_path;
    let platform = fs::read_to_string(repo.join("platform.toml")).unwrap();
    let platform = platform.replace(
        "[clusters.local]\ndescription = \"embedded local cluster\"",
        &format!(
            "[clusters.local]\ncontext = \"{CONTEXT}\"\nkubeconfig = \"{}\"",
            kubeconfig.display()
        ),
    );
    assert!(
        platform.contains(CONTEXT),
        "examples/platform.toml changed shape"
    );
    fs::write(repo.join("platform.toml"), platform).unwrap();
    dir
}

/// A minimal HTTP/1.1 client for the daemon's endpoints: one request per connection.
/// Returns the status code and the body.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n.min(rest.len())]);
        s = rest.get(n + 2..).unwrap_or("");
    }
    out
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_or(secs, what, check, String::new)
}

/// Like [`wait_for`]; the panic message ends with `context()` (a log, say).
pub fn wait_or<T>(
    secs: u64,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for {what}\n{}", context());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A `berth daemon` process, killed when dropped.
pub struct Daemon {
    /// The process.
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where its stderr (operator logs) goes.
    pub log: PathBuf,
}

impl Daemon {
    /// `berth daemon REPO --state-dir STATE` in `cwd`, polling hourly and checking drift every
    /// `drift_interval`, with `extra` flags.
    pub fn on_dir(
        repo: &Path,
        state: &Path,
        cwd: &Path,
        drift_interval: &str,
        extra: &[&str],
    ) -> Daemon {
        let (repo, state) = (repo.to_str().unwrap(), state.to_str().unwrap());
        let mut args = vec![
            repo,
            "--state-dir",
            state,
            "--interval",
            "1h",
            "--drift-interval",
            drift_interval,
        ];
        args.extend_from_slice(extra);
        Daemon::start(&args, cwd, &[])
    }

    /// Starts `berth daemon ARGS --listen 127.0.0.1:0` in `cwd` and waits for its address.
    pub fn start(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Daemon {
        use std::io::BufRead;
        let log = cwd.join(format!("daemon-{}.log", next_id()));
        let mut cmd = Command::new(bin());
        cmd.arg("-v")
            .arg("daemon")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("BERTH_STATE_DIR")
            .stdout(std::process::Stdio::piped())
            .stderr(fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start berth daemon");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                panic!(
                    "no address in {line:?}; log:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        Daemon { child, url, log }
    }

    /// Waits for `check` like [`wait_for`], showing this daemon's log on a timeout.
    pub fn wait<T>(&self, secs: u64, what: &str, check: impl FnMut() -> Option<T>) -> T {
        wait_or(secs, what, check, || format!("daemon log:\n{}", self.log()))
    }

    /// GET `path`, body parsed as JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let (code, body) = http("GET", &format!("{}{path}", self.url), &[], b"");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The status API.
    pub fn status(&self) -> serde_json::Value {
        self.json("/api/v1/status")
    }

    /// The metrics text.
    pub fn metrics(&self) -> String {
        http("GET", &format!("{}/metrics", self.url), &[], b"").1
    }

    /// The value of the unlabelled counter or gauge `name` in the metrics (panics when absent).
    pub fn counter(&self, name: &str) -> u64 {
        let metrics = self.metrics();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    }

    /// Its operator log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        wait_for(30, "the daemon to exit", || self.child.try_wait().unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn next_id() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Runs the real kubectl against the test API server `server`; panics when it fails.
/// Returns stdout.
pub fn kubectl(server: &kube_emulator::ApiServer, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        // Over TLS as the administrator: kubectl sends no token to a plain-HTTP server.
        .args([
            "--server",
            &server.https_url(),
            "--insecure-skip-tls-verify",
        ])
        .args(["--token", server.admin_token()])
        .args(args)
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `spec.replicas` of a tenant's database StatefulSet (`db` in namespace `ns`) in the
/// embedded cluster `local` under the state directory `state`.
pub fn embedded_replicas(state: &Path, ns: &str) -> Option<i64> {
    use berth::cluster::{Backend, EmbeddedCluster};
    let cluster = EmbeddedCluster::open("local", state).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = berth::object::ObjectRef {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        namespace: Some(ns.into()),
        name: "db".into(),
    };
    let obj = rt.block_on(Backend::Embedded(cluster).get(&id)).unwrap()?;
    obj["spec"]["replicas"].as_i64()
}
