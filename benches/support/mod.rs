//! What the benchmark binaries share: their command line and readings of this process's
//! memory and CPU time (Linux `/proc`).

#![allow(dead_code)]

use std::time::Duration;

/// The command line of a benchmark.
pub struct Args(Vec<String>);

impl Args {
    /// This process's arguments.
    pub fn from_env() -> Self {
        Args(std::env::args().collect())
    }

    /// `cargo bench` passes `--bench`; `cargo test --all-targets` runs the binary without it,
    /// and then a benchmark makes a small smoke run.
    pub fn smoke(&self) -> bool {
        !self.0.iter().any(|a| a == "--bench")
    }

    /// The value after `name`, if any.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }

    /// The number after `name`, or `default`.
    pub fn number(&self, name: &str, default: usize) -> usize {
        self.value(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

/// A memory figure of this process from /proc/self/status (`VmHWM`, `VmRSS`), in MiB.
pub fn memory(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The peak resident memory of this process so far, in MiB.
pub fn peak_rss_mib() -> f64 {
    memory("VmHWM")
}

/// Resets the peak resident set size of this process (Linux).
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User + system CPU time of this process so far (Linux: /proc/self/stat, in clock ticks).
pub fn cpu_time() -> Duration {
    stat_time(11, 12)
}

/// User + system CPU time of the child processes this process waited for (Linux:
/// `cutime` and `cstime` of /proc/self/stat).
pub fn children_cpu_time() -> Duration {
    stat_time(13, 14)
}

fn stat_time(user: usize, system: usize) -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime, stime, cutime and cstime are fields 14 to 17 of the line, 12 to 15 after the
    // name (counted from 1).
    Duration::from_millis((ticks(user) + ticks(system)) * 10)
}
