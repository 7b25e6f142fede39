//! The `berth` binary: parse arguments, set up logs, run a command, map the outcome to an exit
//! status. Exit statuses: 0 success, 1 failure (bad input or failed operation), 2 changes or
//! drift present (with `--detailed-exitcode`), 64 command-line usage error.

use std::process::ExitCode;

use clap::Parser;

use berth::cli::{Cli, LogFormat};
use berth::commands::{self, Outcome};
use berth::printer::Printer;

/// jemalloc: rendering makes many small allocations from both cores; with it reading,
/// validating and rendering 10,000 tenants is about 5 % faster than with glibc's allocator,
/// for about the same peak memory (`cargo bench --bench pipeline`, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings (its `malloc_conf`): unused pages go back to the system after about a
/// second instead of ten, which keeps the peak of a run near glibc's.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &b"dirty_decay_ms:1000\0"[0];

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 64 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut printer = Printer::new(cli.color);
    printer.verbose = cli.verbose > 0;
    init_logs(cli.verbose, cli.log_format, printer.color_err);
    match commands::run(cli, &printer) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Ok(Outcome::Changes) => ExitCode::from(2),
        Err(e) => {
            printer.err(&format!("error: {e:#}\n"));
            ExitCode::from(1)
        }
    }
}

/// Operator logs on stderr, filtered by `-v` or RUST_LOG; with ANSI colours only when `ansi`
/// (`--color`, NO_COLOR and whether stderr is a terminal decide, as for the printer's
/// messages).
fn init_logs(verbose: u8, format: LogFormat, ansi: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // kube's client logs each failed request at ERROR; berth reports the failure itself,
        // naming the cluster and what to check (-v shows kube's lines too).
        0 => "warn,kube_client=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
