//! Repository URLs: redaction of credentials, and the key of a URL's cache.

use std::path::Path;

/// What replaces credentials in a URL.
const MASK: &str = "***";

/// `url` with its credentials hidden, for messages, logs and status.
///
/// In `http(s)://` URLs any userinfo is hidden (`https://TOKEN@host/` is a common way to pass a
/// token); in other URLs (`ssh://git@host/x`, `git@host:x`) a user name alone is kept and a
/// password hidden. Query strings and fragments are dropped: they may carry tokens too.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_scp_like(url);
    };
    let scheme = &url[..scheme_end];
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = (&authority[..at], &authority[at + 1..]);
            let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
            if http || userinfo.contains(':') {
                format!("{MASK}@{host}")
            } else {
                authority.to_string()
            }
        }
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}

/// `user:password@host:path` (scp-like) keeps only a user name.
fn redact_scp_like(url: &str) -> String {
    match (url.rfind('@'), url.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!("{MASK}{}", &url[at..]),
        _ => url.to_string(),
    }
}

/// `text` with the credentials of every URL in it hidden (for messages of libgit2 and of
/// the transports, which may quote the URL they were given).
pub fn redact_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |j| j + 1);
        let end = rest[i + 3..]
            .find(|c: char| c.is_whitespace() || "'\"`<>()[]{},;".contains(c))
            .map_or(rest.len(), |j| i + 3 + j);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `url` as it can be written down (in a saved plan) and fetched again: [`redact_url`]'s
/// form with the hidden credentials left out instead of masked, so that a user name of SSH
/// URLs is kept and a token or password is never recorded.
pub fn recordable(url: &str) -> String {
    redact_url(url).replacen(&format!("{MASK}@"), "", 1)
}

/// The URL without any userinfo, query or fragment: what identifies the repository whatever
/// the credentials, for the name of its cache.
pub fn without_credentials(url: &str) -> String {
    let redacted = redact_url(url);
    match redacted.find("://") {
        Some(i) => {
            let (scheme, rest) = redacted.split_at(i + 3);
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}{}", &rest[at + 1..]),
                None => redacted,
            }
        }
        None => redacted,
    }
}

/// Whether `url` names a local repository (a path, or `file://`), and its path then.
pub fn local_path(url: &str) -> Option<&Path> {
    if let Some(p) = url.strip_prefix("file://") {
        return Some(Path::new(p));
    }
    if url.contains("://") {
        return None;
    }
    // scp-like `host:path` has a colon before any slash.
    match (url.find(':'), url.find('/')) {
        (Some(c), Some(s)) if c < s => None,
        (Some(_), None) => None,
        _ => Some(Path::new(url)),
    }
}

/// The host and port of an SSH URL (`ssh://[user@]host[:port]/path`, `git+ssh://`,
/// `ssh+git://`, or scp-like `[user@]host:path` on port 22); `None` for other URLs.
pub fn ssh_host_port(url: &str) -> Option<(String, u16)> {
    let authority = match url.find("://") {
        Some(i) => {
            let scheme = url[..i].to_ascii_lowercase();
            if !matches!(scheme.as_str(), "ssh" | "git+ssh" | "ssh+git") {
                return None;
            }
            let rest = &url[i + 3..];
            &rest[..rest.find('/').unwrap_or(rest.len())]
        }
        None if local_path(url).is_some() => return None,
        None => {
            // scp-like: the host ends at the first `:` after any `user@` (or a bracketed
            // address); the port is always 22.
            let rest = url.rsplit_once('@').map_or(url, |(_, r)| r);
            let host = match rest.strip_prefix('[') {
                Some(r) => &r[..r.find(']')?],
                None => &rest[..rest.find(':')?],
            };
            return Some((host.to_string(), 22));
        }
    };
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match hostport.strip_prefix('[') {
        Some(r) => {
            let end = r.find(']')?;
            (&r[..end], r[end + 1..].strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = match port {
        Some(p) if !p.is_empty() => p.parse().ok()?,
        _ => 22,
    };
    Some((host.to_string(), port))
}

/// A short, stable, file-system-safe name for the cache of `url`.
pub fn cache_name(url: &str) -> String {
    let key = without_credentials(url);
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let hex: String = digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // The last path component, for people looking at the directory.
    let tail: String = key
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("")
        .trim_end_matches(".git")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(40)
        .collect();
    if tail.is_empty() || tail.starts_with('.') {
        hex
    } else {
        format!("{tail}-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_https_userinfo_and_query() {
        assert_eq!(
            redact_url("https://x-access-token:ghp_SECRET@github.com/org/repo.git"),
            "https://***@github.com/org/repo.git"
        );
        assert_eq!(
            redact_url("https://ghp_SECRET@github.com/org/repo"),
            "https://***@github.com/org/repo"
        );
        assert_eq!(
            redact_url("https://github.com/org/repo?private_token=SECRET#x"),
            "https://github.com/org/repo"
        );
        assert_eq!(redact_url("HTTP://u:p@h"), "HTTP://***@h");
        assert_eq!(
            redact_url("https://github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
    }

    #[test]
    fn redact_url_keeps_ssh_user_names_but_not_passwords() {
        assert_eq!(
            redact_url("ssh://git@github.com/org/repo.git"),
            "ssh://git@github.com/org/repo.git"
        );
        assert_eq!(
            redact_url("ssh://git:hunter2@host:2222/repo"),
            "ssh://***@host:2222/repo"
        );
        assert_eq!(
            redact_url("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(
            redact_url("git:pw@github.com:org/repo"),
            "***@github.com:org/repo"
        );
        assert_eq!(redact_url("/srv/git/config.git"), "/srv/git/config.git");
        assert_eq!(
            redact_url("file:///srv/git/config.git"),
            "file:///srv/git/config.git"
        );
    }

    #[test]
    fn recordable_urls_hold_no_credentials_but_keep_ssh_user_names() {
        assert_eq!(
            recordable("https://x-access-token:ghp_SECRET@github.com/org/repo.git?t=SECRET"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            recordable("ssh://git@github.com/org/repo.git"),
            "ssh://git@github.com/org/repo.git"
        );
        assert_eq!(recordable("ssh://git:hunter2@host/repo"), "ssh://host/repo");
        assert_eq!(
            recordable("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(recordable("/srv/git/config.git"), "/srv/git/config.git");
    }

    #[test]
    fn redact_in_text_hides_every_url_in_a_message() {
        let msg = "failed to connect to 'https://tok:SECRET@git.example/x.git': refused; \
                   also https://OTHER@h/y";
        let out = redact_in_text(msg);
        assert!(!out.contains("SECRET") && !out.contains("OTHER"), "{out}");
        assert_eq!(
            out,
            "failed to connect to 'https://***@git.example/x.git': refused; also https://***@h/y"
        );
        assert_eq!(redact_in_text("no url here"), "no url here");
    }

    #[test]
    fn cache_name_ignores_credentials() {
        let a = cache_name("https://tok@github.com/org/config.git");
        let b = cache_name("https://github.com/org/config.git");
        let c = cache_name("https://github.com/org/other.git");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("config-"), "{a}");
        assert!(!a.contains("tok"));
    }

    #[test]
    fn ssh_hosts_and_ports() {
        let hp = |u: &str| ssh_host_port(u);
        assert_eq!(
            hp("ssh://git@127.0.0.1:2222/srv/x.git"),
            Some(("127.0.0.1".into(), 2222))
        );
        assert_eq!(hp("ssh://h/x"), Some(("h".into(), 22)));
        assert_eq!(hp("git+ssh://u:pw@h:22/x"), Some(("h".into(), 22)));
        assert_eq!(hp("ssh://git@[::1]:2200/x"), Some(("::1".into(), 2200)));
        assert_eq!(
            hp("git@github.com:org/x.git"),
            Some(("github.com".into(), 22))
        );
        assert_eq!(hp("github.com:org/x.git"), Some(("github.com".into(), 22)));
        assert_eq!(hp("https://h/x"), None);
        assert_eq!(hp("file:///a/b"), None);
        assert_eq!(hp("../config"), None);
    }

    #[test]
    fn local_paths_are_recognised() {
        assert_eq!(local_path("file:///a/b"), Some(Path::new("/a/b")));
        assert_eq!(local_path("../config"), Some(Path::new("../config")));
        assert_eq!(local_path("git@github.com:org/x"), None);
        assert_eq!(local_path("https://h/x"), None);
    }
}
