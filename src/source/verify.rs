//! Commit signature verification: SSH signatures with `ssh-keygen -Y verify` against an
//! allowed-signers file, OpenPGP signatures with `gpg --verify` against a keyring.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use git2::{Oid, Repository};

/// Which signatures are accepted. A commit must carry a signature that one of the configured
/// trust files accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// An SSH allowed-signers file (`ssh-keygen(1)`, `ALLOWED SIGNERS`), for SSH signatures.
    pub allowed_signers: Option<PathBuf>,
    /// An OpenPGP keyring (`gpg --export KEYID > FILE`), for OpenPGP signatures.
    pub gpg_keyring: Option<PathBuf>,
}

/// Why a commit's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    /// The commit has no signature.
    #[error("the commit is not signed")]
    Unsigned,
    /// The key that signed it is not trusted.
    #[error("the commit is signed by an unknown key ({0})")]
    UnknownKey(String),
    /// The signature does not match the commit.
    #[error("bad signature ({0})")]
    Bad(String),
    /// The signature could not be checked at all.
    #[error("the signature could not be checked: {0}")]
    Unchecked(String),
}

/// Checks the signature of commit `oid` against `policy`.
pub(super) fn verify_commit(
    repo: &Repository,
    oid: Oid,
    policy: &SignaturePolicy,
) -> Result<(), SignatureProblem> {
    let (signature, payload) = match repo.extract_signature(&oid, None) {
        Ok(pair) => pair,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Err(SignatureProblem::Unsigned),
        Err(e) => return Err(SignatureProblem::Unchecked(e.message().to_string())),
    };
    let signature: &[u8] = &signature;
    let payload: &[u8] = &payload;
    if signature.starts_with(b"-----BEGIN SSH SIGNATURE-----") {
        match &policy.allowed_signers {
            Some(file) => verify_ssh(signature, payload, file),
            None => Err(SignatureProblem::UnknownKey(
                "an SSH signature, and no --allowed-signers file was given".into(),
            )),
        }
    } else if signature.starts_with(b"-----BEGIN PGP SIGNATURE-----") {
        match &policy.gpg_keyring {
            Some(file) => verify_gpg(signature, payload, file),
            None => Err(SignatureProblem::UnknownKey(
                "an OpenPGP signature, and no --gpg-keyring was given".into(),
            )),
        }
    } else {
        Err(SignatureProblem::UnknownKey(
            "a signature of a format berth cannot check (only SSH and OpenPGP)".into(),
        ))
    }
}

/// An SSH signature: find who signed it in the allowed-signers file, then verify the payload
/// for that principal in the `git` namespace (what `git verify-commit` does).
fn verify_ssh(signature: &[u8], payload: &[u8], allowed: &Path) -> Result<(), SignatureProblem> {
    let sig = TempFile::new("sig", signature)?;
    let find = Command::new("ssh-keygen")
        .args(["-Y", "find-principals", "-f"])
        .arg(allowed)
        .arg("-s")
        .arg(&sig.0)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SignatureProblem::Unchecked(format!("running ssh-keygen: {e}")))?;
    let stdout = String::from_utf8_lossy(&find.stdout);
    let Some(principal) = stdout.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(SignatureProblem::UnknownKey(format!(
            "its key is not in {}",
            allowed.display()
        )));
    };
    let out = run_with_stdin(
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "git", "-f"])
            .arg(allowed)
            .arg("-I")
            .arg(principal)
            .arg("-s")
            .arg(&sig.0),
        payload,
        "ssh-keygen",
    )?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SignatureProblem::Bad(first_line(
            &out.stderr,
            &format!("ssh-keygen rejected the signature of `{principal}`"),
        )))
    }
}

/// An OpenPGP signature, checked by gpg against the keys of `keyring` only: they are imported
/// into a throwaway home directory (so the user's keys and trust settings play no part, and
/// the keyring may be binary or ASCII-armored, as `gpg --export [--armor]` writes it).
fn verify_gpg(signature: &[u8], payload: &[u8], keyring: &Path) -> Result<(), SignatureProblem> {
    let keyring = std::path::absolute(keyring)
        .map_err(|e| SignatureProblem::Unchecked(format!("{}: {e}", keyring.display())))?;
    if let Err(e) = std::fs::File::open(&keyring) {
        return Err(SignatureProblem::Unchecked(format!(
            "cannot read the keyring {}: {e}",
            keyring.display()
        )));
    }
    let home = TempDir::new()?;
    let gpg = || {
        let mut cmd = Command::new("gpg");
        cmd.args([
            "--batch",
            "--no-tty",
            "--quiet",
            "--no-autostart",
            "--homedir",
        ])
        .arg(&home.0);
        cmd
    };
    let import = gpg()
        .args(["--status-fd", "1", "--import"])
        .arg(&keyring)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SignatureProblem::Unchecked(format!("running gpg: {e}")))?;
    let imported = String::from_utf8_lossy(&import.stdout)
        .lines()
        .any(|l| l.starts_with("[GNUPG:] IMPORT_OK "));
    if !imported {
        return Err(SignatureProblem::Unchecked(format!(
            "no OpenPGP public key could be read from {} ({})",
            keyring.display(),
            first_line(&import.stderr, "gpg imported nothing")
        )));
    }
    let sig = TempFile::new("sig.asc", signature)?;
    let out = run_with_stdin(
        gpg()
            .args(["--status-fd", "1", "--verify"])
            .arg(&sig.0)
            .arg("-"),
        payload,
        "gpg",
    )?;
    let status = String::from_utf8_lossy(&out.stdout);
    let has = |tag: &str| {
        status.lines().any(|l| {
            l.strip_prefix("[GNUPG:] ")
                .is_some_and(|r| r.starts_with(tag))
        })
    };
    if has("BADSIG") {
        Err(SignatureProblem::Bad("gpg: BADSIG".into()))
    } else if has("REVKEYSIG") {
        Err(SignatureProblem::Bad(
            "the signing key is revoked; gpg: REVKEYSIG".into(),
        ))
    } else if has("EXPKEYSIG") {
        Err(SignatureProblem::Bad(
            "the signing key has expired; gpg: EXPKEYSIG".into(),
        ))
    } else if has("EXPSIG") {
        Err(SignatureProblem::Bad(
            "the signature has expired; gpg: EXPSIG".into(),
        ))
    } else if has("NO_PUBKEY") || has("ERRSIG") {
        Err(SignatureProblem::UnknownKey(format!(
            "its key is not in {}",
            keyring.display()
        )))
    } else if out.status.success() && has("GOODSIG") && has("VALIDSIG") {
        Ok(())
    } else {
        Err(SignatureProblem::Bad(first_line(
            &out.stderr,
            "gpg did not report a good signature",
        )))
    }
}

fn run_with_stdin(
    cmd: &mut Command,
    input: &[u8],
    tool: &str,
) -> Result<std::process::Output, SignatureProblem> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SignatureProblem::Unchecked(format!("running {tool}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A tool that exits early closes its input: the exit status tells why.
        let _ = stdin.write_all(input);
    }
    child
        .wait_with_output()
        .map_err(|e| SignatureProblem::Unchecked(format!("running {tool}: {e}")))
}

fn first_line(bytes: &[u8], fallback: &str) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(fallback)
        .to_string()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("berth-{prefix}-{}-{n}", std::process::id()))
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> Result<Self, SignatureProblem> {
        let path = unique(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| SignatureProblem::Unchecked(format!("{}: {e}", path.display())))?;
        let file = TempFile(path);
        f.write_all(contents)
            .map_err(|e| SignatureProblem::Unchecked(format!("{}: {e}", file.0.display())))?;
        Ok(file)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A private directory in the temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, SignatureProblem> {
        let path = unique("gnupg");
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&path)
            .map_err(|e| SignatureProblem::Unchecked(format!("{}: {e}", path.display())))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
