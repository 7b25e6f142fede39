//! Fault injection for tests: failing, throttling, slowing down and dropping requests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do instead of answering a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer with this status and a `Status` body (429 also gets `Retry-After`).
    Status(u16),
    /// Close the connection without an answer.
    Drop,
}

#[derive(Debug, Clone)]
struct Rule {
    method: Option<String>,
    path_substring: String,
    remaining: usize,
    status: u16,
}

#[derive(Debug, Default)]
struct State {
    latency: Duration,
    drop_next: usize,
    fail_next: Option<(usize, u16)>,
    rules: Vec<Rule>,
}

/// Shared handle to the faults of a server. Faults are consumed in this order: dropped
/// connections, failures of matching requests, then failures of any request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl Faults {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// The next `n` requests fail with `status` (500, 503, 429, ...) and a `Status` body.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.with(|s| s.fail_next = (n > 0).then_some((n, status)));
    }

    /// The next `n` requests whose method is `method` (any when empty or `*`) and whose path
    /// contains `path_substring` fail with `status`.
    pub fn fail_matching(&self, method: &str, path_substring: &str, n: usize, status: u16) {
        let method = (!method.is_empty() && method != "*").then(|| method.to_ascii_uppercase());
        self.with(|s| {
            s.rules.push(Rule {
                method,
                path_substring: path_substring.to_string(),
                remaining: n,
                status,
            })
        });
    }

    /// Every request waits this long before it is handled.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|s| s.latency = latency);
    }

    /// The next `n` requests get their connection closed without an answer.
    pub fn drop_next(&self, n: usize) {
        self.with(|s| s.drop_next = n);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.with(|s| *s = State::default());
    }

    /// The latency to add and the fault (if any) for one request, consuming it.
    pub(crate) fn take(&self, method: &str, path: &str) -> (Duration, Option<Fault>) {
        self.with(|s| {
            let latency = s.latency;
            if s.drop_next > 0 {
                s.drop_next -= 1;
                return (latency, Some(Fault::Drop));
            }
            for r in s.rules.iter_mut() {
                let method_ok = r
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method));
                if r.remaining > 0 && method_ok && path.contains(&r.path_substring) {
                    r.remaining -= 1;
                    return (latency, Some(Fault::Status(r.status)));
                }
            }
            s.rules.retain(|r| r.remaining > 0);
            if let Some((n, status)) = s.fail_next {
                s.fail_next = (n > 1).then_some((n - 1, status));
                return (latency, Some(Fault::Status(status)));
            }
            (latency, None)
        })
        .unwrap_or((Duration::ZERO, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let f = Faults::default();
        f.drop_next(1);
        f.fail_matching("patch", "/statefulsets/", 1, 409);
        f.fail_next(2, 500);
        assert_eq!(f.take("GET", "/api").1, Some(Fault::Drop));
        assert_eq!(
            f.take("GET", "/apis/apps/v1/statefulsets/x").1,
            Some(Fault::Status(500))
        );
        assert_eq!(
            f.take("PATCH", "/apis/apps/v1/namespaces/a/statefulsets/x")
                .1,
            Some(Fault::Status(409))
        );
        assert_eq!(f.take("PATCH", "/x").1, Some(Fault::Status(500)));
        assert_eq!(
            f.take("PATCH", "/apis/apps/v1/namespaces/a/statefulsets/x")
                .1,
            None
        );
        f.set_latency(Duration::from_millis(5));
        assert_eq!(f.take("GET", "/").0, Duration::from_millis(5));
        f.clear();
        assert_eq!(f.take("GET", "/"), (Duration::ZERO, None));
    }
}
