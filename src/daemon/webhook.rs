//! Push webhooks from GitHub and GitLab: verifying that a request comes from the forge, and
//! reading which branch was pushed.
//!
//! - GitHub signs the body with HMAC-SHA256 and the shared secret, in
//!   `X-Hub-Signature-256: sha256=<hex>`; the event is in `X-GitHub-Event` (`push`, `ping`).
//! - GitLab sends the secret itself in `X-Gitlab-Token`; the event is in `X-Gitlab-Event`
//!   (`Push Hook`, `Tag Push Hook`, ...).
//!
//! Both comparisons are constant-time. A request that fails verification is rejected and
//! never triggers a sync.

use serde::Deserialize;

/// Which forge sent a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// GitHub (and Gitea/Forgejo, which send the same signature header).
    GitHub,
    /// GitLab.
    GitLab,
}

impl Forge {
    /// Name for logs and responses.
    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
        }
    }
}

/// Why a webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No secret is configured: webhooks are off.
    #[error("webhooks are disabled: no webhook secret is configured")]
    Disabled,
    /// The signature or token header is missing.
    #[error("the {header} header is missing")]
    MissingHeader {
        /// The header.
        header: &'static str,
    },
    /// The signature or token does not match.
    #[error("the {header} header does not match the configured secret")]
    BadSignature {
        /// The header.
        header: &'static str,
    },
    /// The body is not the JSON of a push event.
    #[error("the body is not a push event: {0}")]
    BadBody(String),
}

/// What a verified webhook asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A push to `git_ref` (`refs/heads/main`), now at `after`.
    Push {
        /// The ref pushed.
        git_ref: String,
        /// The new commit, when given.
        after: Option<String>,
    },
    /// Anything else that was verified (GitHub's `ping`, other events): acknowledged, ignored.
    Other(String),
}

#[derive(Deserialize)]
struct PushBody {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    after: Option<String>,
}

/// Verifies a webhook request and reads its event. `header` looks a request header up by
/// (case-insensitive) name.
pub fn verify(
    forge: Forge,
    secret: Option<&str>,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<Event, WebhookError> {
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(WebhookError::Disabled)?;
    let event = match forge {
        Forge::GitHub => {
            const H: &str = "X-Hub-Signature-256";
            let sig = header(H).ok_or(WebhookError::MissingHeader { header: H })?;
            let hex = sig
                .strip_prefix("sha256=")
                .ok_or(WebhookError::BadSignature { header: H })?;
            let tag = decode_hex(hex).ok_or(WebhookError::BadSignature { header: H })?;
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
            ring::hmac::verify(&key, body, &tag)
                .map_err(|_| WebhookError::BadSignature { header: H })?;
            header("X-GitHub-Event").unwrap_or_default()
        }
        Forge::GitLab => {
            const H: &str = "X-Gitlab-Token";
            let token = header(H).ok_or(WebhookError::MissingHeader { header: H })?;
            if !constant_time_eq(token.as_bytes(), secret.as_bytes()) {
                return Err(WebhookError::BadSignature { header: H });
            }
            header("X-Gitlab-Event").unwrap_or_default()
        }
    };
    let is_push = match forge {
        Forge::GitHub => event == "push",
        Forge::GitLab => event == "Push Hook",
    };
    if !is_push {
        return Ok(Event::Other(event));
    }
    let push: PushBody =
        serde_json::from_slice(body).map_err(|e| WebhookError::BadBody(e.to_string()))?;
    Ok(Event::Push {
        git_ref: push.git_ref,
        after: push.after,
    })
}

/// The GitHub signature header value of `body` under `secret` (for tests and tools).
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares without an early exit, so that timing does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"ref":"refs/heads/main","after":"0123abcd"}"#;

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name.to_ascii_lowercase())
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn github_push_with_a_good_signature_is_accepted() {
        let sig = github_signature("s3cret", BODY);
        let h = headers(&[("X-Hub-Signature-256", &sig), ("X-GitHub-Event", "push")]);
        assert_eq!(
            verify(Forge::GitHub, Some("s3cret"), &h, BODY),
            Ok(Event::Push {
                git_ref: "refs/heads/main".into(),
                after: Some("0123abcd".into())
            })
        );
    }

    #[test]
    fn github_signature_of_another_body_or_secret_is_rejected() {
        let sig = github_signature("other", BODY);
        let h = headers(&[("X-Hub-Signature-256", &sig), ("X-GitHub-Event", "push")]);
        assert!(matches!(
            verify(Forge::GitHub, Some("s3cret"), &h, BODY),
            Err(WebhookError::BadSignature { .. })
        ));
        let sig = github_signature("s3cret", b"{}");
        let h = headers(&[("X-Hub-Signature-256", &sig), ("X-GitHub-Event", "push")]);
        assert!(matches!(
            verify(Forge::GitHub, Some("s3cret"), &h, BODY),
            Err(WebhookError::BadSignature { .. })
        ));
        let h = headers(&[
            ("X-Hub-Signature-256", "sha256=zz"),
            ("X-GitHub-Event", "push"),
        ]);
        assert!(verify(Forge::GitHub, Some("s3cret"), &h, BODY).is_err());
        let h = headers(&[("X-GitHub-Event", "push")]);
        assert_eq!(
            verify(Forge::GitHub, Some("s3cret"), &h, BODY),
            Err(WebhookError::MissingHeader {
                header: "X-Hub-Signature-256"
            })
        );
    }

    #[test]
    fn gitlab_token_must_match_exactly() {
        let h = headers(&[
            ("X-Gitlab-Token", "s3cret"),
            ("X-Gitlab-Event", "Push Hook"),
        ]);
        assert!(matches!(
            verify(Forge::GitLab, Some("s3cret"), &h, BODY),
            Ok(Event::Push { .. })
        ));
        let h = headers(&[("X-Gitlab-Token", "s3cre"), ("X-Gitlab-Event", "Push Hook")]);
        assert!(verify(Forge::GitLab, Some("s3cret"), &h, BODY).is_err());
    }

    #[test]
    fn without_a_secret_webhooks_are_off() {
        let h = headers(&[("X-Gitlab-Token", ""), ("X-Gitlab-Event", "Push Hook")]);
        assert_eq!(
            verify(Forge::GitLab, None, &h, BODY),
            Err(WebhookError::Disabled)
        );
        assert_eq!(
            verify(Forge::GitLab, Some(""), &h, BODY),
            Err(WebhookError::Disabled)
        );
    }

    #[test]
    fn ping_is_verified_then_ignored() {
        let sig = github_signature("s3cret", b"{}");
        let h = headers(&[("X-Hub-Signature-256", &sig), ("X-GitHub-Event", "ping")]);
        assert_eq!(
            verify(Forge::GitHub, Some("s3cret"), &h, b"{}"),
            Ok(Event::Other("ping".into()))
        );
    }
}
