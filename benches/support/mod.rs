//! What the benchmark binaries share: their command line and readings of this process's
//! memory and CPU time (Linux `/proc`), and a measured run of a child process (`wait4`).

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
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name (from 1).
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// What one run of a child process cost: its wall time, its own CPU time (user + system) and
/// its own peak resident memory.
pub struct ChildRun {
    /// Exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    pub cpu: Duration,
    pub peak_rss_mib: f64,
}

/// Set when this benchmark binary is started as a launcher (see [`run_child`]).
const LAUNCH: &str = "BERTH_BENCH_LAUNCH";
/// The line a launcher ends its standard error with.
const MEASURED: &str = "berth-bench-measured:";

/// Runs `program` with `args` to its end, its output captured, and measures it.
///
/// `wait4` reports a child's peak resident memory, but on Linux a child started from this
/// process (with `vfork` or `fork`) is charged this process's peak as well. So the command
/// is started from a launcher: this benchmark binary again, freshly executed and small, which
/// starts the command, waits for it with `wait4` and reports its figures on a last line of
/// standard error ([`serve_launch`]).
pub fn run_child(program: &std::path::Path, args: &[&std::ffi::OsStr]) -> ChildRun {
    let out = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .arg(program)
        .args(args)
        .env(LAUNCH, "1")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the launcher");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (stderr, line) = stderr
        .trim_end()
        .rsplit_once(MEASURED)
        .unwrap_or_else(|| panic!("the launcher did not report: {stderr}"));
    let figures: Vec<i64> = line
        .split_whitespace()
        .map(|v| v.parse().expect("a figure"))
        .collect();
    let [code, wall_us, cpu_us, maxrss_kib] = figures[..] else {
        panic!("launcher figures: {line}")
    };
    ChildRun {
        code: (code >= 0).then_some(code as i32),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr.to_string(),
        wall: Duration::from_micros(wall_us as u64),
        cpu: Duration::from_micros(cpu_us as u64),
        peak_rss_mib: maxrss_kib as f64 / 1024.0,
    }
}

/// When this process was started by [`run_child`]: runs the command it was given, with the
/// standard streams inherited, waits for it with `wait4`, reports exit code, wall time, CPU
/// time and peak memory on standard error, and exits. Otherwise returns at once. Each
/// benchmark calls it first thing in `main`.
pub fn serve_launch() {
    if std::env::var_os(LAUNCH).is_none() {
        return;
    }
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("a program to launch");
    let started = std::time::Instant::now();
    let child = std::process::Command::new(program)
        .args(args)
        .env_remove(LAUNCH)
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; `pid` is our own child, not yet waited for (`child` is
    // dropped without waiting when this process exits).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let wall = started.elapsed();
    let micros = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in KiB.
    eprintln!(
        "{MEASURED} {code} {} {} {}",
        wall.as_micros(),
        micros(usage.ru_utime) + micros(usage.ru_stime),
        usage.ru_maxrss
    );
    std::process::exit(0);
}
