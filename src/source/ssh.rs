//! SSH remotes: the server's host key checked against known_hosts files (as OpenSSH does,
//! never trusting a key on first use), and what berth can tell about a private key file
//! without decrypting it (whether a passphrase protects it, its public key's fingerprint).
//!
//! libssh2 checks `~/.ssh/known_hosts` by itself but says only "invalid or unknown remote ssh
//! hostkey"; berth checks the key in its certificate callback instead, against the files the
//! user named, and says which host, which key and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

/// Why a server's host key is not accepted. Messages name the host, the key's type and
/// fingerprint and the files read; never anything secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyProblem {
    /// No known_hosts file lists the host.
    #[error("the SSH host key of {host} is not known ({key}; known_hosts files read: {files}){cert_authority}; berth connects only to hosts whose key is listed there: check the fingerprint with the server's administrator, then add the key, e.g. `{keyscan} >> {target}`, or name another file with --known-hosts or BERTH_GIT_KNOWN_HOSTS")]
    Unknown {
        /// The host as known_hosts names it (`github.com`, `[127.0.0.1]:2222`).
        host: String,
        /// The key the server sent: type and fingerprint.
        key: HostKey,
        /// The files read.
        files: String,
        /// An `ssh-keyscan` command that fetches the key.
        keyscan: String,
        /// The file to add it to.
        target: String,
        /// `""`, or why a `@cert-authority` line for the host does not help (host
        /// certificates are not supported).
        cert_authority: String,
    },
    /// The host is listed with other keys: the key changed, or someone is in the middle.
    #[error("the SSH host key of {host} does not match the one in {file}:{line}: the server sent {key}, the file lists {known}; someone may be intercepting the connection, or the host key was replaced: if the change is expected, replace that line with the new key")]
    Changed {
        /// The host as known_hosts names it.
        host: String,
        /// The key the server sent.
        key: HostKey,
        /// The known key that does not match.
        known: HostKey,
        /// Where that key is listed.
        file: String,
        /// Its line (from 1).
        line: usize,
    },
    /// The key is marked `@revoked`.
    #[error("the SSH host key of {host} ({key}) is marked @revoked in {file}:{line}")]
    Revoked {
        /// The host as known_hosts names it.
        host: String,
        /// The key the server sent.
        key: HostKey,
        /// Where it is revoked.
        file: String,
        /// The line (from 1).
        line: usize,
    },
    /// The host is listed only with keys of other types than the one the server sent
    /// (libssh2 asks for ed25519 first, then ECDSA, then RSA).
    #[error("the SSH host key of {host} is not known: the server sent {key}, and {file}:{line} lists only a key of another type ({known_kind}) for this host; berth asks servers for an ed25519 key first, then ECDSA, then RSA: check the fingerprint with the server's administrator, then add this key, e.g. `{keyscan} >> {file}`")]
    OtherType {
        /// The host as known_hosts names it.
        host: String,
        /// The key the server sent.
        key: HostKey,
        /// The type of the key listed.
        known_kind: String,
        /// Where it is listed.
        file: String,
        /// The line (from 1).
        line: usize,
        /// An `ssh-keyscan` command that fetches the key.
        keyscan: String,
    },
    /// The known_hosts file given cannot be read.
    #[error("cannot read the known_hosts file {file}: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
}

/// A public key, for messages: its type (`ssh-ed25519`) and SHA-256 fingerprint, as
/// `ssh-keygen -l` shows it (`SHA256:` and unpadded base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// The key type, from the key itself.
    pub kind: String,
    /// `SHA256:...`.
    pub fingerprint: String,
}

impl HostKey {
    /// Type and fingerprint of a public key blob (the SSH wire format, as in known_hosts and
    /// `.pub` files after base64 decoding).
    pub fn of(blob: &[u8]) -> HostKey {
        HostKey {
            kind: key_type(blob).unwrap_or("unknown").to_string(),
            fingerprint: fingerprint(blob),
        }
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} key {}", self.kind, self.fingerprint)
    }
}

/// `SHA256:` and the unpadded base64 of the SHA-256 of a key blob.
pub fn fingerprint(blob: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, blob);
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest.as_ref()))
}

/// The type name a key blob starts with (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`).
fn key_type(blob: &[u8]) -> Option<&str> {
    let (name, _) = read_string(blob)?;
    std::str::from_utf8(name).ok()
}

/// An SSH wire-format string (a big-endian u32 length, then the bytes) and what follows.
fn read_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let rest = &data[4..];
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The known_hosts files a host key is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHosts {
    files: Vec<PathBuf>,
    /// A file the user named: it must be readable. The default files may be missing.
    explicit: bool,
}

impl KnownHosts {
    /// `file` when given; else OpenSSH's defaults, `~/.ssh/known_hosts` and
    /// `/etc/ssh/ssh_known_hosts`.
    pub fn new(file: Option<&Path>) -> KnownHosts {
        match file {
            Some(f) => KnownHosts {
                files: vec![f.to_path_buf()],
                explicit: true,
            },
            None => {
                let mut files = Vec::new();
                if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                    files.push(Path::new(&home).join(".ssh/known_hosts"));
                }
                files.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
                KnownHosts {
                    files,
                    explicit: false,
                }
            }
        }
    }

    /// Accepts the key `blob` that `host` (port `port`) presented when a known_hosts file
    /// lists that key for the host, and no file revokes it.
    // Once per connection, and the error is the message: its size does not matter.
    #[allow(clippy::result_large_err)]
    pub fn check(&self, host: &str, port: u16, blob: &[u8]) -> Result<(), HostKeyProblem> {
        let name = host_entry_name(host, port);
        let key = HostKey::of(blob);
        let mut matched = false;
        // The first other key of the same type, and of another type.
        let mut other: Option<(HostKey, String, usize)> = None;
        let mut other_type: Option<(HostKey, String, usize)> = None;
        let mut cert_authority: Option<(String, usize)> = None;
        for file in &self.files {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) if !self.explicit && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(HostKeyProblem::Unreadable {
                        file: file.display().to_string(),
                        reason: e.to_string(),
                    })
                }
            };
            for (i, line) in text.lines().enumerate() {
                let Some(entry) = Entry::parse(line) else {
                    continue;
                };
                if !entry.matches_host(&name) {
                    continue;
                }
                if entry.marker == Marker::CertAuthority {
                    cert_authority.get_or_insert((file.display().to_string(), i + 1));
                    continue;
                }
                let same = entry.key.as_deref() == Some(blob);
                match entry.marker {
                    Marker::Revoked if same => {
                        return Err(HostKeyProblem::Revoked {
                            host: name,
                            key,
                            file: file.display().to_string(),
                            line: i + 1,
                        })
                    }
                    Marker::Revoked | Marker::CertAuthority => {}
                    Marker::None if same => matched = true,
                    Marker::None => {
                        if let Some(k) = &entry.key {
                            let known = HostKey::of(k);
                            let slot = if known.kind == key.kind {
                                &mut other
                            } else {
                                &mut other_type
                            };
                            if slot.is_none() {
                                *slot = Some((known, file.display().to_string(), i + 1));
                            }
                        }
                    }
                }
            }
        }
        if matched {
            return Ok(());
        }
        if let Some((known, file, line)) = other {
            return Err(HostKeyProblem::Changed {
                host: name,
                key,
                known,
                file,
                line,
            });
        }
        let short_type = match key.kind.as_str() {
            "ssh-ed25519" => "ed25519",
            "ssh-rsa" => "rsa",
            k if k.starts_with("ecdsa-") => "ecdsa",
            k => k,
        };
        let keyscan = if port == 22 {
            format!("ssh-keyscan -t {short_type} {host}")
        } else {
            format!("ssh-keyscan -p {port} -t {short_type} {host}")
        };
        if let Some((known, file, line)) = other_type {
            return Err(HostKeyProblem::OtherType {
                host: name,
                key,
                known_kind: known.kind,
                file,
                line,
                keyscan,
            });
        }
        Err(HostKeyProblem::Unknown {
            host: name,
            key,
            files: self
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            keyscan,
            target: self.files.first().map_or_else(
                || "~/.ssh/known_hosts".to_string(),
                |f| f.display().to_string(),
            ),
            cert_authority: cert_authority.map_or_else(String::new, |(file, line)| {
                format!(
                    "; {file}:{line} names a certificate authority (@cert-authority) for it, but berth's SSH transport (libssh2) does not take host certificates: list the host's own key"
                )
            }),
        })
    }
}

/// How known_hosts names a host: the name alone on port 22, else `[host]:port`.
fn host_entry_name(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One line of a known_hosts file (`sshd(8)`, "SSH_KNOWN_HOSTS FILE FORMAT").
struct Entry<'a> {
    marker: Marker,
    hosts: &'a str,
    /// The key blob; `None` when the base64 is broken (such a line matches no key).
    key: Option<Vec<u8>>,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Entry<'a>> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split_ascii_whitespace();
        let mut first = fields.next()?;
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            m if m.starts_with('@') => return None,
            _ => Marker::None,
        };
        if marker != Marker::None {
            first = fields.next()?;
        }
        let _kind = fields.next()?;
        let key = fields.next().and_then(|b| STANDARD.decode(b).ok());
        Some(Entry {
            marker,
            hosts: first,
            key,
        })
    }

    /// Whether the host patterns match `name` (already in known_hosts form): a hashed name
    /// (`|1|salt|hash`), or comma-separated patterns with `*` and `?`, where a matching
    /// negated pattern (`!pattern`) rules the line out.
    fn matches_host(&self, name: &str) -> bool {
        if let Some(hashed) = self.hosts.strip_prefix("|1|") {
            return hashed_matches(hashed, name);
        }
        let mut positive = false;
        for pattern in self.hosts.split(',') {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix('!') {
                Some(negated) if wildcard_match(negated.as_bytes(), name.as_bytes()) => {
                    return false
                }
                Some(_) => {}
                None => positive |= wildcard_match(pattern.as_bytes(), name.as_bytes()),
            }
        }
        positive
    }
}

/// `salt|hash` (base64 both): HMAC-SHA1 of the name keyed by the salt, as
/// `HashKnownHosts yes` writes it.
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// `*` matches any run of characters, `?` any one character.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| wildcard_match(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard_match(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard_match(rest, &text[1..]),
    }
}

/// What berth can tell about a private key file without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileInfo {
    /// A passphrase protects the key.
    pub encrypted: bool,
    /// The public key's type and fingerprint, from the file (OpenSSH format) or the `.pub`
    /// file beside it.
    pub public: Option<HostKey>,
}

/// Reads a private key file's header (never its secret part): whether it is encrypted and
/// which public key it holds. An error is the reason the file cannot be read.
pub fn inspect_key_file(path: &Path) -> Result<KeyFileInfo, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut info = KeyFileInfo {
        encrypted: text.contains("Proc-Type: 4,ENCRYPTED")
            || text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        public: None,
    };
    if let Some(body) = pem_body(&text, "OPENSSH PRIVATE KEY") {
        if let Some((encrypted, public)) = openssh_header(&body) {
            info.encrypted = encrypted;
            info.public = Some(HostKey::of(public));
        }
    }
    if info.public.is_none() {
        let mut pub_path = path.as_os_str().to_os_string();
        pub_path.push(".pub");
        if let Ok(text) = std::fs::read_to_string(&pub_path) {
            info.public = text
                .split_ascii_whitespace()
                .nth(1)
                .and_then(|b| STANDARD.decode(b).ok())
                .map(|blob| HostKey::of(&blob));
        }
    }
    Ok(info)
}

/// The decoded body of a PEM block `-----BEGIN {label}-----`.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

/// The unencrypted header of an `openssh-key-v1` key: whether a cipher protects the
/// private part, and the first public key blob.
fn openssh_header(data: &[u8]) -> Option<(bool, &[u8])> {
    let rest = data.strip_prefix(b"openssh-key-v1\0")?;
    let (cipher, rest) = read_string(rest)?;
    let (_kdf, rest) = read_string(rest)?;
    let (_kdf_options, rest) = read_string(rest)?;
    let count = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    if count == 0 {
        return None;
    }
    let (public, _) = read_string(&rest[4..])?;
    Some((cipher != b"none", public))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known_hosts file in a temporary directory.
    fn file(text: &str) -> (tempfile::TempDir, KnownHosts) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        let kh = KnownHosts::new(Some(&path));
        (dir, kh)
    }

    /// A made-up ed25519 public key blob.
    fn blob(byte: u8) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&11u32.to_be_bytes());
        b.extend_from_slice(b"ssh-ed25519");
        b.extend_from_slice(&32u32.to_be_bytes());
        b.extend_from_slice(&[byte; 32]);
        b
    }

    fn line(hosts: &str, key: &[u8]) -> String {
        format!("{hosts} ssh-ed25519 {} comment\n", STANDARD.encode(key))
    }

    #[test]
    fn a_listed_key_is_accepted_on_its_port_only() {
        let (_d, kh) = file(&format!(
            "# comment\n\n{}{}",
            line("git.example,10.0.0.1", &blob(1)),
            line("[git.example]:2222", &blob(2))
        ));
        assert_eq!(kh.check("git.example", 22, &blob(1)), Ok(()));
        assert_eq!(kh.check("GIT.example", 22, &blob(1)), Ok(()));
        assert_eq!(kh.check("10.0.0.1", 22, &blob(1)), Ok(()));
        assert_eq!(kh.check("git.example", 2222, &blob(2)), Ok(()));
        // The port-22 key is not the key of port 2222, and the other way round.
        assert!(matches!(
            kh.check("git.example", 2222, &blob(1)),
            Err(HostKeyProblem::Changed { line: 4, .. })
        ));
        assert!(matches!(
            kh.check("git.example", 22, &blob(2)),
            Err(HostKeyProblem::Changed { line: 3, .. })
        ));
    }

    #[test]
    fn an_unknown_host_is_refused_with_the_fingerprint_and_a_fix() {
        let (d, kh) = file(&line("git.example", &blob(1)));
        let err = kh.check("other.example", 2222, &blob(3)).unwrap_err();
        let msg = err.to_string();
        let fp = fingerprint(&blob(3));
        assert!(
            msg.starts_with(&format!(
                "the SSH host key of [other.example]:2222 is not known (ssh-ed25519 key {fp}; known_hosts files read: {}",
                d.path().join("known_hosts").display()
            )),
            "{msg}"
        );
        assert!(
            msg.contains("`ssh-keyscan -p 2222 -t ed25519 other.example >> "),
            "{msg}"
        );
    }

    #[test]
    fn patterns_negations_and_hashed_names() {
        let salt = [7u8; 20];
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let hash = ring::hmac::sign(&key, b"[hashed.example]:2222");
        let hashed = format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(hash.as_ref())
        );
        let (_d, kh) = file(&format!(
            "{}{}{}",
            line("*.example,!bad.example", &blob(1)),
            line(&hashed, &blob(2)),
            line("h?st", &blob(3))
        ));
        assert_eq!(kh.check("a.example", 22, &blob(1)), Ok(()));
        assert!(matches!(
            kh.check("bad.example", 22, &blob(1)),
            Err(HostKeyProblem::Unknown { .. })
        ));
        assert_eq!(kh.check("hashed.example", 2222, &blob(2)), Ok(()));
        assert!(matches!(
            kh.check("hashed.example", 22, &blob(2)),
            Err(HostKeyProblem::Changed { .. }) // *.example, another key
        ));
        assert_eq!(kh.check("host", 22, &blob(3)), Ok(()));
        assert!(matches!(
            kh.check("hoost", 22, &blob(3)),
            Err(HostKeyProblem::Unknown { .. })
        ));
    }

    #[test]
    fn a_host_listed_with_another_key_type_is_not_called_changed() {
        let mut rsa = Vec::new();
        rsa.extend_from_slice(&7u32.to_be_bytes());
        rsa.extend_from_slice(b"ssh-rsa");
        rsa.extend_from_slice(&[9; 40]);
        let (d, kh) = file(&format!("git.example ssh-rsa {}\n", STANDARD.encode(&rsa)));
        let err = kh.check("git.example", 22, &blob(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the SSH host key of git.example is not known: the server sent ssh-ed25519 key {}, and {f}:1 lists only a key of another type (ssh-rsa) for this host; berth asks servers for an ed25519 key first, then ECDSA, then RSA: check the fingerprint with the server's administrator, then add this key, e.g. `ssh-keyscan -t ed25519 git.example >> {f}`",
                fingerprint(&blob(1)),
                f = d.path().join("known_hosts").display()
            )
        );
        assert_eq!(kh.check("git.example", 22, &rsa), Ok(()));
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_listed() {
        let (_d, kh) = file(&format!(
            "{}@revoked * ssh-ed25519 {}\n@cert-authority * ssh-ed25519 {}\n",
            line("git.example", &blob(1)),
            STANDARD.encode(blob(1)),
            STANDARD.encode(blob(4)),
        ));
        assert!(matches!(
            kh.check("git.example", 22, &blob(1)),
            Err(HostKeyProblem::Revoked { line: 2, .. })
        ));
        // A certificate authority's key is not a host key.
        assert!(matches!(
            kh.check("git.example", 22, &blob(4)),
            Err(HostKeyProblem::Changed { .. })
        ));
    }

    #[test]
    fn a_host_covered_only_by_a_cert_authority_is_unknown_and_says_why() {
        let (d, kh) = file(&format!(
            "@cert-authority *.example ssh-ed25519 {}\n",
            STANDARD.encode(blob(4)),
        ));
        let err = kh.check("git.example", 22, &blob(1)).unwrap_err();
        assert!(matches!(err, HostKeyProblem::Unknown { .. }), "{err:?}");
        let f = d.path().join("known_hosts");
        assert!(
            err.to_string().contains(&format!(
                "; {}:1 names a certificate authority (@cert-authority) for it, but berth's SSH transport (libssh2) does not take host certificates: list the host's own key;",
                f.display()
            )),
            "{err}"
        );
        // Another host: no such note.
        let err = kh.check("git.other", 22, &blob(1)).unwrap_err();
        assert!(!err.to_string().contains("@cert-authority"), "{err}");
    }

    #[test]
    fn a_named_file_must_exist_the_defaults_may_not() {
        let dir = tempfile::tempdir().unwrap();
        let kh = KnownHosts::new(Some(&dir.path().join("missing")));
        assert!(matches!(
            kh.check("h", 22, &blob(1)),
            Err(HostKeyProblem::Unreadable { .. })
        ));
        let defaults = KnownHosts {
            files: vec![dir.path().join("missing")],
            explicit: false,
        };
        assert!(matches!(
            defaults.check("h", 22, &blob(1)),
            Err(HostKeyProblem::Unknown { .. })
        ));
    }

    /// deploy/config.yaml ships github.com's host key with its fingerprint in a comment.
    #[test]
    fn the_deploy_known_hosts_is_the_fingerprint_it_claims() {
        let yaml = include_str!("../../deploy/config.yaml");
        let entry = yaml
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("github.com ssh-ed25519 "))
            .expect("a github.com line");
        let blob = STANDARD
            .decode(entry.split_whitespace().nth(2).unwrap())
            .unwrap();
        assert!(yaml.contains(&format!("github.com's key,\n  # {}.", fingerprint(&blob))));
        let (_d, kh) = file(&format!("{entry}\n"));
        assert_eq!(kh.check("github.com", 22, &blob), Ok(()));
    }

    #[test]
    fn fingerprints_are_those_of_ssh_keygen() {
        // `ssh-keygen -lf` of this public key prints this fingerprint.
        let public = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let blob = STANDARD.decode(public).unwrap();
        assert_eq!(
            fingerprint(&blob),
            "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"
        );
        assert_eq!(key_type(&blob), Some("ssh-ed25519"));
    }
}
