//! Retries of transient failures: berth decides about them itself (kube's own retries are
//! off), with exponential backoff and jitter.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ClusterError;

/// A run's allowance of retries, shared by every request of the run (reads and writes, every
/// cluster): no retry begins once `time` has passed since the run started, so that a server
/// failing most requests cannot keep a CI job waiting for hours; a request that fails then
/// fails at once and the run reports it. Also counts the retries made, by reason.
#[derive(Debug)]
pub struct RetryBudget {
    time: Duration,
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    started: Instant,
    retries: BTreeMap<&'static str, u64>,
    failures: BTreeMap<&'static str, u64>,
    spent_warned: bool,
}

/// The default [`RetryBudget`] time: long enough to ride out an API server restart or a
/// minute of throttling, short enough for a CI job.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(300);

impl RetryBudget {
    /// A budget of `time`, starting now.
    pub fn new(time: Duration) -> Arc<Self> {
        Arc::new(Self {
            time,
            state: Mutex::new(BudgetState {
                started: Instant::now(),
                retries: BTreeMap::new(),
                failures: BTreeMap::new(),
                spent_warned: false,
            }),
        })
    }

    /// Starts a new run (the daemon, at each sync): the time counts from now again. The
    /// retry counts are kept (they are totals).
    pub fn restart(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.started = Instant::now();
        s.spent_warned = false;
    }

    /// Whether a retry after `delay` still fits; records it, under `reason`, when it does.
    pub fn allow(&self, delay: Duration, reason: &'static str) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.started.elapsed() + delay > self.time {
            if !s.spent_warned {
                s.spent_warned = true;
                tracing::warn!(
                    budget = ?self.time,
                    "the retry budget of this run is spent: failing requests are not retried \
                     any more"
                );
            }
            return false;
        }
        *s.retries.entry(reason).or_default() += 1;
        true
    }

    /// Retries made so far, by reason ([`retry_reason`]).
    pub fn retries(&self) -> BTreeMap<&'static str, u64> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retries
            .clone()
    }

    /// Requests that failed for good (not retried, or out of retries) so far, by reason
    /// ([`retry_reason`]).
    pub fn failures(&self) -> BTreeMap<&'static str, u64> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failures
            .clone()
    }

    fn failed(&self, reason: &'static str) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *s.failures.entry(reason).or_default() += 1;
    }
}

/// Why a request failed, as a metric label: `throttled` (429), `expired` (410),
/// `server_error` (5xx), `unreachable` (refused, reset, dropped or timed out), `conflict`
/// (409), `forbidden` (403), `unauthorized` (401), `invalid` (400, 422), `not_found` (404),
/// `other`.
pub fn retry_reason(e: &ClusterError) -> &'static str {
    match e {
        ClusterError::Transient { code: 429, .. } => "throttled",
        ClusterError::Transient { code: 410, .. } => "expired",
        ClusterError::Transient { .. } => "server_error",
        ClusterError::Unreachable { .. } => "unreachable",
        ClusterError::Conflict { .. } => "conflict",
        ClusterError::Forbidden { .. } => "forbidden",
        ClusterError::Unauthorized { .. } => "unauthorized",
        ClusterError::Invalid { .. } => "invalid",
        ClusterError::NotFound { .. } => "not_found",
        _ => "other",
    }
}

/// How often and how patiently a failed request is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub base: Duration,
    /// Longest delay between two attempts.
    pub max: Duration,
    /// Randomise each delay between half and all of it, so that many clients retrying at
    /// once do not hit the server in step.
    pub jitter: bool,
    /// The run's budget, when it has one: a retry that does not fit is not made.
    pub budget: Option<Arc<RetryBudget>>,
}

impl Eq for RetryPolicy {}

impl PartialEq for RetryPolicy {
    fn eq(&self, other: &Self) -> bool {
        (self.attempts, self.base, self.max, self.jitter)
            == (other.attempts, other.base, other.max, other.jitter)
            && match (&self.budget, &other.budget) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

/// Attempts per request by default, the first included.
pub const DEFAULT_ATTEMPTS: u32 = 5;

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: DEFAULT_ATTEMPTS,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            jitter: true,
            budget: None,
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        let full = self.base.saturating_mul(factor).min(self.max);
        if !self.jitter {
            return full;
        }
        let half = full / 2;
        half + half.mul_f64(random_unit())
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` that failed with `e`: the backoff,
    /// or as long as the server asked (`Retry-After`, at most `MAX_RETRY_AFTER`) when that
    /// is longer.
    pub fn delay_after(&self, attempt: u32, e: &ClusterError) -> Duration {
        let asked = e.retry_after().unwrap_or_default().min(MAX_RETRY_AFTER);
        self.delay(attempt).max(asked)
    }

    /// The delay before retrying after failed attempt number `attempt`, which failed with
    /// `e`: `None` when `e` is not worth retrying (`retryable`), the attempts are spent or
    /// the run's budget has no room for it.
    pub fn retry_after_failure(
        &self,
        attempt: u32,
        e: &ClusterError,
        retryable: impl Fn(&ClusterError) -> bool,
    ) -> Option<Duration> {
        let reason = retry_reason(e);
        let give_up = || {
            // A 404 answers a GET of what does not exist yet: not a failure.
            if let (Some(b), false) = (&self.budget, e.is_not_found()) {
                b.failed(reason);
            }
            None
        };
        if !retryable(e) || attempt >= self.attempts.max(1) {
            return give_up();
        }
        let delay = self.delay_after(attempt, e);
        match &self.budget {
            Some(b) if !b.allow(delay, reason) => give_up(),
            _ => Some(delay),
        }
    }
}

/// A number in `[0, 1)`, good enough for jitter: no cryptographic use.
pub fn random_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    // splitmix64
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The longest `Retry-After` berth honours; a server asking for longer gets this, then the
/// next attempt (or the error).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Runs `op` until it succeeds, fails for a reason retrying cannot mend, or `policy`'s
/// attempts are spent; waits [`RetryPolicy::delay`] after each transient failure
/// ([`ClusterError::is_transient`]: throttling, server errors, dropped, refused or timed-out
/// connections), or as long as the server asked (`Retry-After`, at most
/// `MAX_RETRY_AFTER`) when that is longer. `what` names the request in the debug log.
pub async fn retry_transient<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClusterError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Err(e) => match policy.retry_after_failure(attempt, &e, ClusterError::is_transient) {
                Some(delay) => {
                    tracing::debug!(request = what, attempt, ?delay, error = %e, "transient failure; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(e),
            },
            ok => return ok,
        }
    }
}
