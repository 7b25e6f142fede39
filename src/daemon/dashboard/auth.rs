//! Who may submit the proposal forms.
//!
//! Reading is open. The forms need the dashboard token: it is checked once (an HMAC of the
//! given text verified against the token, so the comparison takes the same time whatever the
//! input) and exchanged for a session cookie `<issued>-<random>.<hmac>`, `HttpOnly` and
//! `SameSite=Strict`. Every form carries a CSRF token, the HMAC of the session id under a key
//! made at start-up, and every POST must come from the dashboard's own origin (`Origin`, else
//! `Referer`). Without a configured token the forms are disabled. A restart ends sessions.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Cookie name of a session.
pub const SESSION_COOKIE: &str = "berth_session";

/// How long a session lasts, seconds.
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// The token and the key of sessions and CSRF tokens.
pub struct Auth {
    token: Option<String>,
    key: hmac::Key,
}

impl Auth {
    /// With a random key; `token` `None` disables the forms.
    pub fn new(token: Option<&str>) -> Auth {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random number generator works");
        Auth {
            token: token.map(str::to_string),
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        }
    }

    /// Whether the forms are enabled.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the token, in constant time.
    pub fn token_matches(&self, given: &str) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        let tag = hmac::sign(&self.key, given.trim().as_bytes());
        hmac::verify(&self.key, token.as_bytes(), tag.as_ref()).is_ok()
    }

    fn mac(&self, purpose: &str, sid: &str) -> String {
        hex(hmac::sign(&self.key, format!("{purpose}:{sid}").as_bytes()).as_ref())
    }

    fn verify(&self, purpose: &str, sid: &str, mac_hex: &str) -> bool {
        let Some(mac) = unhex(mac_hex) else {
            return false;
        };
        hmac::verify(&self.key, format!("{purpose}:{sid}").as_bytes(), &mac).is_ok()
    }

    /// A new session cookie value, issued at `now`.
    pub fn new_session(&self, now: i64) -> String {
        let mut r = [0u8; 16];
        SystemRandom::new()
            .fill(&mut r)
            .expect("the system random number generator works");
        let sid = format!("{now}-{}", hex(&r));
        format!("{sid}.{}", self.mac("session", &sid))
    }

    /// The session id of a cookie value that this daemon issued and that has not expired.
    pub fn session(&self, cookie: &str, now: i64) -> Option<String> {
        if !self.enabled() {
            return None;
        }
        let (sid, mac) = cookie.split_once('.')?;
        if !self.verify("session", sid, mac) {
            return None;
        }
        let issued: i64 = sid.split('-').next()?.parse().ok()?;
        (now >= issued && now - issued < SESSION_SECONDS).then(|| sid.to_string())
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, sid: &str) -> String {
        self.mac("csrf", sid)
    }

    /// Whether `token` is the CSRF token of `sid`, in constant time.
    pub fn csrf_ok(&self, sid: &str, token: &str) -> bool {
        self.verify("csrf", sid, token)
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Whether a POST comes from the page's own origin: `Origin` (else `Referer`) must be
/// `http(s)://<Host>`. A request with neither is refused.
pub fn same_origin(host: Option<&str>, origin: Option<&str>, referer: Option<&str>) -> bool {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return false;
    };
    let ok = |o: &str| o == format!("http://{host}") || o == format!("https://{host}");
    match (origin, referer) {
        (Some(o), _) if o != "null" => ok(o),
        (_, Some(r)) => {
            let base = r.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            ok(&base)
        }
        _ => false,
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_unlocks_and_nothing_else_does() {
        let a = Auth::new(Some("s3cret-token"));
        assert!(a.token_matches("s3cret-token"));
        assert!(a.token_matches(" s3cret-token\n"));
        assert!(!a.token_matches("s3cret-toke"));
        assert!(!a.token_matches(""));
        let off = Auth::new(None);
        assert!(!off.enabled());
        assert!(!off.token_matches(""));
    }

    #[test]
    fn sessions_and_csrf_tokens_are_bound_to_this_daemon_and_expire() {
        let a = Auth::new(Some("t"));
        let cookie = a.new_session(1000);
        let sid = a.session(&cookie, 1001).unwrap();
        assert!(a.session(&cookie, 1000 + SESSION_SECONDS).is_none());
        let tampered = cookie.replacen("1000", "9999", 1);
        assert!(a.session(&tampered, 10_000).is_none());
        let other = Auth::new(Some("t"));
        assert!(other.session(&cookie, 1001).is_none(), "another key");

        let csrf = a.csrf(&sid);
        assert!(a.csrf_ok(&sid, &csrf));
        assert!(!a.csrf_ok(&sid, &a.csrf("1000-00")));
        assert!(!a.csrf_ok(&sid, "zz"));
        assert!(!a.csrf_ok(&sid, ""));
    }

    #[test]
    fn posts_must_come_from_the_same_origin() {
        let h = Some("127.0.0.1:8080");
        assert!(same_origin(h, Some("http://127.0.0.1:8080"), None));
        assert!(same_origin(h, Some("https://127.0.0.1:8080"), None));
        assert!(same_origin(
            h,
            None,
            Some("http://127.0.0.1:8080/propose/tenant")
        ));
        assert!(!same_origin(h, Some("http://evil.example"), None));
        assert!(!same_origin(
            h,
            Some("http://evil.example"),
            Some("http://127.0.0.1:8080/")
        ));
        assert!(!same_origin(
            h,
            None,
            Some("http://127.0.0.1:8080.evil.example/")
        ));
        assert!(!same_origin(h, None, None));
        assert!(!same_origin(None, Some("http://127.0.0.1:8080"), None));
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(
            cookie("a=1; berth_session=x.y; b=2", SESSION_COOKIE),
            Some("x.y")
        );
        assert_eq!(cookie("a=1", SESSION_COOKIE), None);
    }
}
