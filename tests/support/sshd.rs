//! A real OpenSSH server and ssh-agent for the tests: an unprivileged `sshd` on a free
//! loopback port with its own host key, authorized keys and configuration in a temporary
//! directory, serving the Git repositories of this machine with `git-upload-pack`.

use std::fs;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::wait_or;

const SSHD: &str = "/usr/sbin/sshd";

/// An ed25519 key pair made by ssh-keygen in `dir` (`name` and `name.pub`), protected by
/// `passphrase` when it is not empty. Returns the private key file and the public key line.
pub fn keygen(dir: &Path, name: &str, passphrase: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success(), "{out:?}");
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

/// `SHA256:...` of a public key line, as `ssh-keygen -l` prints it.
pub fn fingerprint(public: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.pub");
    fs::write(&file, format!("{public}\n")).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&file)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_string()
}

/// A running `sshd`, stopped when dropped.
pub struct Sshd {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    /// The user the tests log in as: the one running them.
    pub user: String,
    /// Host key, configuration, authorized keys and log.
    pub dir: tempfile::TempDir,
    /// The host key's public line (`ssh-ed25519 AAAA... host`).
    pub host_key: String,
}

impl Sshd {
    /// Starts sshd accepting the `authorized` public keys for the current user. `None` (after
    /// a loud message) when OpenSSH's server is not installed and `CI` is not set; with `CI`
    /// set, a missing server fails the test.
    pub fn start(authorized: &[&str]) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            let msg =
                "OpenSSH's server is needed for the SSH tests: apt-get install -y openssh-server";
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("\n!!!!!!!!!! SKIPPED an SSH test: {msg} !!!!!!!!!!\n");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let user = String::from_utf8(
            Command::new("id")
                .arg("-un")
                .output()
                .expect("id -un")
                .stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        if user == "root" {
            // Run as root, sshd wants its privilege separation directory, which the ssh
            // service would create.
            fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let (host_key_file, host_key) = keygen(dir.path(), "host_ed25519_key", "");
        let authorized_keys = dir.path().join("authorized_keys");
        fs::write(&authorized_keys, authorized.join("\n") + "\n").unwrap();
        // git-upload-pack for the session: the directory of the git being used and its
        // exec path, whatever PATH sshd would give.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path")
            .stdout;
        let exec_path = String::from_utf8(exec_path).unwrap().trim().to_string();
        let path = format!("{exec_path}:/usr/local/bin:/usr/bin:/bin");
        let log = dir.path().join("sshd.log");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.path().join("sshd_config");
            fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host}\n\
                     PidFile {pid}\n\
                     AuthorizedKeysFile {authorized}\n\
                     StrictModes no\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     UsePAM no\n\
                     PermitRootLogin prohibit-password\n\
                     AllowUsers {user}\n\
                     SetEnv PATH={path}\n\
                     LogLevel VERBOSE\n",
                    host = host_key_file.display(),
                    pid = dir.path().join("sshd.pid").display(),
                    authorized = authorized_keys.display(),
                ),
            )
            .unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).unwrap())
                .spawn()
                .expect("start sshd");
            let up = wait_or(
                20,
                "sshd to listen",
                || {
                    if let Ok(Some(_)) = child.try_wait() {
                        return Some(false);
                    }
                    std::net::TcpStream::connect(("127.0.0.1", port))
                        .ok()
                        .map(|_| true)
                },
                || fs::read_to_string(&log).unwrap_or_default(),
            );
            if up {
                return Some(Sshd {
                    child,
                    port,
                    user,
                    dir,
                    host_key,
                });
            }
            // Another process took the port between the probe and sshd's bind: try another.
            let text = fs::read_to_string(&log).unwrap_or_default();
            assert!(
                text.contains("Address already in use"),
                "sshd did not start:\n{text}"
            );
        }
        panic!("sshd found no free port");
    }

    /// `ssh://USER@127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }

    /// The known_hosts line for this server (`[127.0.0.1]:PORT ssh-ed25519 AAAA...`).
    pub fn known_hosts_line(&self) -> String {
        let mut parts = self.host_key.split_whitespace();
        let (kind, key) = (parts.next().unwrap(), parts.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {key}", self.port)
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// How many logins with a public key sshd accepted so far.
    pub fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey for").count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `ssh-agent` on its own socket, stopped when dropped.
pub struct Agent {
    child: Child,
    /// Its socket, for `SSH_AUTH_SOCK`.
    pub sock: PathBuf,
}

impl Agent {
    /// Starts `ssh-agent -D -a <dir>/agent.sock`.
    pub fn start(dir: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let mut child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        // It prints the variables to set once it listens.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            sock.exists(),
            "ssh-agent printed {line:?} and has no socket"
        );
        Agent { child, sock }
    }

    /// `ssh-add KEY`.
    pub fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdin(Stdio::null())
            .output()
            .expect("ssh-add");
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
