//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Runs the `berth` binary in `dir` with colours and user environment switched off.
pub fn berth(args: &[&str], dir: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("BERTH_STATE_DIR")
        .output()
        .expect("run berth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// insta filters that make times and ages in output stable: RFC 3339 times become `[time]`.
pub const TIME_FILTERS: &[(&str, &str)] = &[(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]")];

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
    if let Some(venv) = std::env::var_os("BERTH_VALIDATE_VENV") {
        let p = Path::new(&venv).join("bin/kubernetes-validate");
        if p.exists() {
            return p;
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("kubernetes-validate");
            if p.exists() {
                return p;
            }
        }
    }
    panic!("kubernetes-validate not found: run the tests with scripts/test.sh, which installs it")
}

/// Context name in kubeconfig files written by [`write_kubeconfig`].
pub const CONTEXT: &str = "test-ctx";

/// Writes the kubeconfig of the test API server (context [`CONTEXT`]) into `dir`.
pub fn write_kubeconfig(dir: &Path, server: &berth::apiserver::ApiServer) -> PathBuf {
    let path = dir.join("kubeconfig");
    fs::write(&path, server.kubeconfig(CONTEXT)).expect("write kubeconfig");
    path
}

/// A copy of `examples/` whose `local` cluster is the test API server `server` (reached
/// through a kubeconfig file written next to it) instead of the embedded store.
pub fn examples_on_kube(server: &berth::apiserver::ApiServer) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &repo,
    );
    let kubeconfig = write_kubeconfig(dir.path(), server);
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
