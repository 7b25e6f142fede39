//! Retries of transient failures: berth decides about them itself (kube's own retries are
//! off), with exponential backoff and jitter.

use std::future::Future;
use std::time::Duration;

use super::ClusterError;

/// How often and how patiently a failed request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            jitter: true,
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
            Err(e) if e.is_transient() && attempt < policy.attempts.max(1) => {
                let delay = policy.delay_after(attempt, &e);
                tracing::debug!(request = what, attempt, ?delay, error = %e, "transient failure; retrying");
                tokio::time::sleep(delay).await;
            }
            result => return result,
        }
    }
}
