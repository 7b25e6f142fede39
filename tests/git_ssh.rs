//! Git over SSH against a real OpenSSH server (`support::sshd`): a key file, ssh-agent,
//! passphrase-protected keys, keys the server refuses, host keys checked against
//! known_hosts (unknown, changed, hashed, the default file), and the daemon following an SSH
//! remote. Each test skips loudly without sshd, and fails without it under `CI`.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::git::Repo;
use support::sshd::{fingerprint, keygen, Agent, Sshd};
use support::{berth_with, Run};

/// Variables of the user's environment that would change which key berth uses or which
/// hosts it trusts.
const USER_SSH_ENV: &[&str] = &[
    "SSH_AUTH_SOCK",
    "BERTH_GIT_SSH_KEY",
    "BERTH_GIT_SSH_KEY_PASSPHRASE",
    "BERTH_GIT_SSH_KEY_PASSPHRASE_FILE",
    "BERTH_GIT_KNOWN_HOSTS",
];

/// The examples in a bare repository, a key the server accepts, and the server.
struct Setup {
    repo: Repo,
    key: PathBuf,
    public: String,
    sshd: Sshd,
}

impl Setup {
    fn new() -> Option<Setup> {
        let repo = Repo::examples();
        let (key, public) = keygen(repo.dir.path(), "deploy_key", "");
        let sshd = Sshd::start(&[&public])?;
        Some(Setup {
            repo,
            key,
            public,
            sshd,
        })
    }

    fn url(&self) -> String {
        self.sshd.url(&self.repo.remote())
    }

    /// A known_hosts file holding `lines`.
    fn known_hosts(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.repo.dir.path().join(name);
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    /// A known_hosts file that lists this server.
    fn trusting(&self) -> PathBuf {
        self.known_hosts("known_hosts", &[self.sshd.known_hosts_line()])
    }

    /// Runs berth on the SSH URL with `args` after the command, `env` set and the user's
    /// SSH settings removed.
    fn berth(&self, command: &[&str], args: &[&str], env: &[(&str, &str)]) -> Run {
        let url = self.url();
        let state = self.repo.state().display().to_string();
        let mut all: Vec<&str> = command.to_vec();
        all.extend(["--repo", &url, "--state-dir", &state]);
        all.extend(args);
        berth_with(&all, self.repo.dir.path(), env, USER_SSH_ENV)
    }
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

/// Fails with everything berth and sshd said.
fn explain(run: &Run, sshd: &Sshd) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}\nsshd log:\n{}",
        run.stdout,
        run.stderr,
        sshd.log()
    )
}

#[test]
fn validate_and_plan_over_ssh_with_a_key_file() {
    let Some(s) = Setup::new() else { return };
    let head = support::git::git(&s.repo.work(), &["rev-parse", "--short=7", "HEAD"]);
    let (key, known) = (arg(&s.key), arg(&s.trusting()));
    let flags = ["--ssh-key", &key, "--known-hosts", &known];

    let run = s.berth(&["validate"], &flags, &[]);
    assert_eq!(run.code, 0, "{}", explain(&run, &s.sshd));
    assert_eq!(
        run.stdout,
        format!(
            "{}@{head} is valid: 3 tenants, 4 backup schedules, 1 restore request; 40 objects rendered\n",
            s.url()
        )
    );
    // Logged in with the key file, once: one connection asks for the default branch (no
    // --branch) and fetches.
    let logins = s.sshd.accepted_logins();
    assert_eq!(logins, 1, "{}", s.sshd.log());
    assert!(
        s.sshd.log().contains(&format!(
            "Accepted publickey for {} from 127.0.0.1 port",
            s.sshd.user
        )) && s.sshd.log().contains(&fingerprint(&s.public)),
        "{}",
        s.sshd.log()
    );

    let run = s.berth(&["plan", "--detailed-exitcode"], &flags, &[]);
    assert_eq!(run.code, 2, "{}", explain(&run, &s.sshd));
    assert!(
        run.stdout
            .contains("Plan: 40 to add, 0 to change, 0 to destroy."),
        "{}",
        run.stdout
    );

    // A new commit is fetched over SSH; the variables work like the flags.
    s.repo
        .edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let second = s.repo.commit("acme: 4 replicas");
    let run = s.berth(
        &["validate"],
        &[],
        &[
            ("BERTH_GIT_SSH_KEY", &key),
            ("BERTH_GIT_KNOWN_HOSTS", &known),
        ],
    );
    assert_eq!(run.code, 0, "{}", explain(&run, &s.sshd));
    assert!(
        run.stdout
            .starts_with(&format!("{}@{} is valid", s.url(), &second[..7])),
        "{}",
        run.stdout
    );
    // validate, plan, validate: one login each.
    assert_eq!(s.sshd.accepted_logins(), logins + 2, "{}", s.sshd.log());
}

#[test]
fn ssh_agent_keys_and_the_default_known_hosts_file() {
    let Some(s) = Setup::new() else { return };
    let agent = Agent::start(s.repo.dir.path());
    agent.add(&s.key);
    // No --known-hosts: ~/.ssh/known_hosts of the HOME berth runs with.
    let home = s.repo.dir.path().join("home");
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(
        home.join(".ssh/known_hosts"),
        s.sshd.known_hosts_line() + "\n",
    )
    .unwrap();
    let sock = arg(&agent.sock);
    let home_s = arg(&home);
    let run = s.berth(
        &["validate"],
        &[],
        &[("SSH_AUTH_SOCK", &sock), ("HOME", &home_s)],
    );
    assert_eq!(run.code, 0, "{}", explain(&run, &s.sshd));
    assert!(
        run.stdout.contains(" is valid: 3 tenants"),
        "{}",
        run.stdout
    );
    assert!(
        s.sshd.log().contains(&format!(
            "Accepted publickey for {} from 127.0.0.1",
            s.sshd.user
        )),
        "{}",
        s.sshd.log()
    );

    // An agent without the key the server wants.
    let other = Agent::start(&s.repo.dir.path().join("home"));
    let (stranger, _) = keygen(s.repo.dir.path(), "stranger", "");
    other.add(&stranger);
    let sock = arg(&other.sock);
    let run = s.berth(
        &["validate"],
        &[],
        &[("SSH_AUTH_SOCK", &sock), ("HOME", &home_s)],
    );
    assert_eq!(run.code, 1, "{}", explain(&run, &s.sshd));
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: authentication to {} failed (tried the keys of ssh-agent); the server must accept the key: add its public key to the repository's deploy keys (or the user's authorized keys), or use another key with --ssh-key or ssh-agent\n",
            s.url()
        )
    );

    // Neither an agent nor a key file.
    let run = s.berth(&["validate"], &[], &[("HOME", &home_s)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "failed (no credentials were available: no --ssh-key, and no ssh-agent (SSH_AUTH_SOCK is not set))"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_key_the_server_refuses_is_named_and_nothing_secret_is_shown() {
    let Some(s) = Setup::new() else { return };
    let (stranger, stranger_pub) = keygen(s.repo.dir.path(), "stranger", "");
    // No .pub file beside it: the fingerprint comes from the key file's public part.
    fs::remove_file(stranger.with_extension("pub")).unwrap();
    let known = arg(&s.trusting());
    let key = arg(&stranger);
    for command in [&["validate"][..], &["plan"], &["validate", "-vvv"]] {
        let run = s.berth(command, &["--ssh-key", &key, "--known-hosts", &known], &[]);
        assert_eq!(run.code, 1, "{}", explain(&run, &s.sshd));
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        let expected = format!(
            "error: cannot read the config repository: authentication to {} failed (tried the ssh key file {key} (ssh-ed25519 key {})); the server must accept the key: add its public key to the repository's deploy keys (or the user's authorized keys), or use another key with --ssh-key or ssh-agent\n",
            s.url(),
            fingerprint(&stranger_pub),
        );
        assert!(run.stderr.ends_with(&expected), "{}", run.stderr);
        // No key material: not a line of the private key, not the public key.
        let private = fs::read_to_string(&stranger).unwrap();
        for line in private.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!run.stderr.contains(line), "{}", run.stderr);
        }
        let public_b64 = stranger_pub.split_whitespace().nth(1).unwrap();
        assert!(!run.stderr.contains(public_b64), "{}", run.stderr);
    }
    assert_eq!(s.sshd.accepted_logins(), 0, "{}", s.sshd.log());

    // A password in the URL is never shown (the server accepts no passwords).
    let with_password = s.url().replacen(
        &format!("ssh://{}@", s.sshd.user),
        &format!("ssh://{}:hunter2-SECRET@", s.sshd.user),
        1,
    );
    let state = arg(&s.repo.state());
    let run = berth_with(
        &[
            "validate",
            "-vvv",
            "--repo",
            &with_password,
            "--state-dir",
            &state,
            "--ssh-key",
            &key,
            "--known-hosts",
            &known,
        ],
        s.repo.dir.path(),
        &[],
        USER_SSH_ENV,
    );
    assert_eq!(run.code, 1, "{}", explain(&run, &s.sshd));
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    let redacted = s
        .url()
        .replacen(&format!("ssh://{}@", s.sshd.user), "ssh://***@", 1);
    assert!(
        run.stderr.contains(&format!(
            "error: cannot read the config repository: authentication to {redacted} failed (tried the ssh key file {key}"
        )),
        "{}",
        run.stderr
    );

    // A key file that does not exist.
    let missing = arg(&s.repo.dir.path().join("no-such-key"));
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &missing, "--known-hosts", &known],
        &[],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: cannot use the ssh key file {missing} for {}: it cannot be read: No such file or directory (os error 2)\n",
            s.url()
        )
    );
}

#[test]
fn a_passphrase_protected_key_needs_its_passphrase_which_is_never_shown() {
    let Some(s) = Setup::new() else { return };
    let passphrase = "correct horse battery staple";
    let (locked, locked_pub) = keygen(s.repo.dir.path(), "locked", passphrase);
    fs::write(
        s.sshd.dir.path().join("authorized_keys"),
        format!("{}\n{locked_pub}\n", s.public),
    )
    .unwrap();
    let known = arg(&s.trusting());
    let key = arg(&locked);
    let flags = ["--ssh-key", &key, "--known-hosts", &known];

    // Without the passphrase: said before connecting.
    let run = s.berth(&["validate"], &flags, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: cannot use the ssh key file {key} for {}: a passphrase protects it: give the passphrase with --ssh-key-passphrase-file FILE or BERTH_GIT_SSH_KEY_PASSPHRASE\n",
            s.url()
        )
    );

    // A wrong passphrase, from a file.
    let wrong = s.repo.dir.path().join("wrong-passphrase");
    fs::write(&wrong, "not-the-PASSPHRASE\n").unwrap();
    let wrong_s = arg(&wrong);
    let mut with_file = flags.to_vec();
    with_file.extend(["--ssh-key-passphrase-file", &wrong_s, "-vvv"]);
    let run = s.berth(&["validate"], &with_file, &[]);
    assert_eq!(run.code, 1, "{}", explain(&run, &s.sshd));
    assert!(
        run.stderr.contains(&format!(
            "error: cannot read the config repository: cannot use the ssh key file {key} for {}: the passphrase given does not open it, or libssh2 cannot read its format (libssh2 says: ",
            s.url()
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-the-PASSPHRASE"), "{}", run.stderr);

    // The right one, from the variable.
    let run = s.berth(
        &["validate", "-vvv"],
        &flags,
        &[("BERTH_GIT_SSH_KEY_PASSPHRASE", passphrase)],
    );
    assert_eq!(run.code, 0, "{}", explain(&run, &s.sshd));
    assert!(!run.stderr.contains("horse"), "{}", run.stderr);
    assert!(
        s.sshd.log().contains(&format!(
            "Accepted publickey for {} from 127.0.0.1 port",
            s.sshd.user
        )) && s.sshd.log().contains(&fingerprint(&locked_pub)),
        "{}",
        s.sshd.log()
    );
}

#[test]
fn unknown_and_changed_host_keys_are_refused_before_logging_in() {
    let Some(s) = Setup::new() else { return };
    let key = arg(&s.key);
    let host_fp = fingerprint(&s.sshd.host_key);
    let port = s.sshd.port;

    // An empty known_hosts file: the host is unknown.
    let empty = s.known_hosts("empty", &[]);
    let empty_s = arg(&empty);
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &key, "--known-hosts", &empty_s],
        &[],
    );
    assert_eq!(run.code, 1, "{}", explain(&run, &s.sshd));
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: cannot connect to {}: the SSH host key of [127.0.0.1]:{port} is not known (ssh-ed25519 key {host_fp}; known_hosts files read: {empty_s}); berth connects only to hosts whose key is listed there: check the fingerprint with the server's administrator, then add the key, e.g. `ssh-keyscan -p {port} -t ed25519 127.0.0.1 >> {empty_s}`, or name another file with --known-hosts or BERTH_GIT_KNOWN_HOSTS\n",
            s.url()
        )
    );

    // The fix the message gives works: ssh-keyscan's line is accepted.
    let scanned = std::process::Command::new("ssh-keyscan")
        .args(["-p", &port.to_string(), "-t", "ed25519", "127.0.0.1"])
        .output()
        .expect("ssh-keyscan");
    let scanned = String::from_utf8_lossy(&scanned.stdout).into_owned();
    assert!(scanned.contains("ssh-ed25519"), "{scanned}");
    let keyscanned = s.known_hosts("scanned", &[scanned.trim().to_string()]);
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &key, "--known-hosts", &arg(&keyscanned)],
        &[],
    );
    assert_eq!(run.code, 0, "{}", explain(&run, &s.sshd));

    // Another key for this host: refused as changed, nothing sent to the server.
    let logins = s.sshd.accepted_logins();
    let (_, impostor) = keygen(s.repo.dir.path(), "impostor", "");
    let impostor_fp = fingerprint(&impostor);
    let changed = s.known_hosts(
        "changed",
        &[
            "# the host's old key".to_string(),
            format!("[127.0.0.1]:{port} {impostor}"),
        ],
    );
    let changed_s = arg(&changed);
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &key, "--known-hosts", &changed_s],
        &[],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot read the config repository: cannot connect to {}: the SSH host key of [127.0.0.1]:{port} does not match the one in {changed_s}:2: the server sent ssh-ed25519 key {host_fp}, the file lists ssh-ed25519 key {impostor_fp}; someone may be intercepting the connection, or the host key was replaced: if the change is expected, replace that line with the new key\n",
            s.url()
        )
    );
    // The same key on the default port is another host.
    let other_port = s.known_hosts("other-port", &[format!("127.0.0.1 {}", s.sshd.host_key)]);
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &key, "--known-hosts", &arg(&other_port)],
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is not known"), "{}", run.stderr);
    assert_eq!(s.sshd.accepted_logins(), logins, "{}", s.sshd.log());

    // Hashed host names (`ssh-keygen -H`, HashKnownHosts) are understood.
    let hashed = s.trusting();
    let out = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&hashed)
        .output()
        .expect("ssh-keygen -H");
    assert!(out.status.success(), "{out:?}");
    let text = fs::read_to_string(&hashed).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("127.0.0.1"),
        "{text}"
    );
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &key, "--known-hosts", &arg(&hashed)],
        &[],
    );
    assert_eq!(run.code, 0, "{}", explain(&run, &s.sshd));

    // A known_hosts file that cannot be read.
    let missing = arg(&s.repo.dir.path().join("missing_known_hosts"));
    let run = s.berth(
        &["validate"],
        &["--ssh-key", &key, "--known-hosts", &missing],
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "cannot connect to {}: cannot read the known_hosts file {missing}: No such file or directory",
            s.url()
        )),
        "{}",
        run.stderr
    );
}

fn synced(d: &support::Daemon, sha: &str, result: &str) -> Option<serde_json::Value> {
    let s = d.status()["last_sync"].clone();
    (s["revision"] == sha && s["result"] == result).then_some(s)
}

/// The daemon follows an SSH remote through a push, and reports a changed host key without
/// giving up the last good revision.
#[test]
fn the_daemon_follows_an_ssh_remote() {
    let Some(s) = Setup::new() else { return };
    let first = support::git::git(&s.repo.work(), &["rev-parse", "HEAD"]);
    let url = s.url();
    let state = s.repo.state();
    let known = s.trusting();
    let d = s.repo.daemon(
        &url,
        "1s",
        &["--ssh-key", &arg(&s.key), "--known-hosts", &arg(&known)],
    );
    d.wait(60, "the first commit applied", || {
        synced(&d, &first, "applied")
    });
    assert_eq!(support::embedded_replicas(&state, "tenant-acme"), Some(5));

    s.repo
        .edit("tenants/acme.toml", "replicas = 5", "replicas = 4");
    let second = s.repo.commit("acme: 4 replicas");
    d.wait(30, "the pushed commit applied", || {
        synced(&d, &second, "applied")
    });
    assert_eq!(support::embedded_replicas(&state, "tenant-acme"), Some(4));

    // The host key changes (known_hosts now lists another key): a source error naming the
    // host; the last good revision stays in force.
    let (_, impostor) = keygen(s.repo.dir.path(), "impostor", "");
    fs::write(&known, format!("[127.0.0.1]:{} {impostor}\n", s.sshd.port)).unwrap();
    let record = d.wait(30, "the changed host key reported", || {
        let r = d.status()["last_sync"].clone();
        (r["result"] == "source_error").then_some(r)
    });
    let why = record["errors"][0].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "the SSH host key of [127.0.0.1]:{} does not match",
            s.sshd.port
        )),
        "{why}"
    );
    assert_eq!(d.status()["good_revision"], second.as_str());
    assert_eq!(support::embedded_replicas(&state, "tenant-acme"), Some(4));
}

/// A dashboard proposal pushed over SSH: accepted with the key the server takes; once the
/// server no longer takes it, the push fails saying so the way a fetch does (the key file
/// and its fingerprint, no secret), not with libgit2's generic message.
#[test]
fn a_refused_proposal_push_names_the_key_like_a_refused_fetch() {
    use berth::source::propose::{FileChange, Proposal};
    use berth::source::{GitAuth, GitSource};
    let Some(s) = Setup::new() else { return };
    let mut options = s.repo.options();
    options.url = s.url();
    options.auth = GitAuth {
        ssh_key: Some(s.key.clone()),
        known_hosts: Some(s.trusting()),
        ..GitAuth::default()
    };
    let mut source = GitSource::remote(options).expect("open the cache");
    let base = source.fetch().expect("fetch over ssh");
    let proposals = source.proposal_repo().expect("a remote takes proposals");
    let proposal = |branch: &str| Proposal {
        branch: branch.to_string(),
        message: "acme: 4 replicas".to_string(),
        files: vec![FileChange {
            path: "tenants/acme.toml".to_string(),
            text: fs::read_to_string(s.repo.config().join("tenants/acme.toml"))
                .unwrap()
                .replace("replicas = 5", "replicas = 4"),
        }],
        author: ("Ada".to_string(), "ada@example.com".to_string()),
    };
    let done = proposals
        .commit(&base, &proposal("berth/accepted"))
        .expect("pushed");
    assert_eq!(done.pushed_to.as_deref(), Some(s.url().as_str()));
    let pushed = support::git::git(&s.repo.remote(), &["rev-parse", "berth/accepted"]);
    assert_eq!(pushed, done.commit);

    // The server stops taking the key.
    fs::write(s.sshd.dir.path().join("authorized_keys"), "\n").unwrap();
    let err = proposals
        .commit(&base, &proposal("berth/refused"))
        .expect_err("refused")
        .to_string();
    assert_eq!(
        err,
        format!(
            "cannot push `berth/refused` to {url}: authentication to {url} failed (tried the ssh key file {} (ssh-ed25519 key {})); the server must accept the key for writing: add its public key to the repository's deploy keys with write access (or the user's authorized keys), or use another key with --ssh-key or ssh-agent",
            s.key.display(),
            fingerprint(&s.public),
            url = s.url(),
        )
    );
    let private = fs::read_to_string(&s.key).unwrap();
    for line in private.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!err.contains(line), "{err}");
    }
}
