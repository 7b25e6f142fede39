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
    /// Wait this long, then close the connection without an answer: a server that stalls past
    /// the client's timeout.
    Stall(Duration),
}

/// How long a stalled request waits before its connection is closed: longer than any client
/// timeout berth uses, so that the client gives up first.
pub const STALL: Duration = Duration::from_secs(120);

/// Random faults: `rate` of requests (0.0-1.0) fail, drawn from a generator seeded with `seed`
/// so that a run can be repeated.
#[derive(Debug, Clone)]
struct Random {
    rate: f64,
    state: u64,
}

impl Random {
    /// SplitMix64 (Steele, Lea and Flood 2014): a seeded generator in five lines, so the
    /// emulator needs no random-number crate for reproducible faults.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault for one request, if it draws one: 500, 503, 429 (with `Retry-After`), a
    /// dropped connection or a stall, equally likely.
    fn draw(&mut self) -> Option<Fault> {
        if self.unit() >= self.rate {
            return None;
        }
        Some(match self.next() % 5 {
            0 => Fault::Status(500),
            1 => Fault::Status(503),
            2 => Fault::Status(429),
            3 => Fault::Drop,
            _ => Fault::Stall(STALL),
        })
    }
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
    random: Option<Random>,
    stall: Duration,
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

    /// From now on a share `rate` (0.0-1.0) of requests fails the ways real servers fail (500,
    /// 503, 429 with `Retry-After`, a dropped connection, a stall past the client's timeout),
    /// the same requests for the same `seed`. Rate 0 turns it off.
    pub fn set_rate(&self, rate: f64, seed: u64) {
        self.with(|s| {
            s.random = (rate > 0.0).then_some(Random {
                rate: rate.min(1.0),
                state: seed,
            })
        });
    }

    /// How long a stall fault waits before dropping the connection ([`STALL`] unless set).
    pub fn set_stall(&self, stall: Duration) {
        self.with(|s| s.stall = stall);
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
            let stall = if s.stall.is_zero() { STALL } else { s.stall };
            let drawn = s.random.as_mut().and_then(Random::draw);
            let drawn = drawn.map(|f| match f {
                Fault::Stall(_) => Fault::Stall(stall),
                f => f,
            });
            (latency, drawn)
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

    fn draws(rate: f64, seed: u64, n: usize) -> Vec<Option<Fault>> {
        let f = Faults::default();
        f.set_rate(rate, seed);
        (0..n).map(|_| f.take("GET", "/api").1).collect()
    }

    #[test]
    fn a_fault_rate_fails_that_share_of_requests_reproducibly_by_seed() {
        let a = draws(0.2, 7, 5000);
        assert_eq!(a, draws(0.2, 7, 5000), "same seed, same faults");
        assert_ne!(a, draws(0.2, 8, 5000), "another seed, other faults");
        let failed = a.iter().flatten().count();
        assert!(
            (800..1200).contains(&failed),
            "{failed} of 5000 at rate 0.2"
        );
        for kind in [
            Fault::Status(500),
            Fault::Status(503),
            Fault::Status(429),
            Fault::Drop,
            Fault::Stall(STALL),
        ] {
            assert!(a.contains(&Some(kind)), "{kind:?} never drawn");
        }
        assert!(draws(0.0, 7, 1000).iter().all(Option::is_none));
    }
}
