//! `kube-emulator`: the Kubernetes API emulator as a standalone server, for trying berth (or
//! `kubectl`) against it by hand. It serves on 127.0.0.1 (HTTPS with a self-signed certificate,
//! and plain HTTP on the same port), writes a kubeconfig whose current
//! context is `emulator` (an administrator in group `system:masters`), prints `ready <url>`
//! once it accepts requests, and runs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kube_emulator::ApiServer;
use kube_store::ObjectStore;

/// A Kubernetes API server emulator for tests.
#[derive(Debug, Parser)]
#[command(name = "kube-emulator", version)]
struct Args {
    /// Where to write the kubeconfig that reaches the emulator (context `emulator`).
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,
    /// Port on 127.0.0.1 to serve on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Share of requests (0.0-1.0) that fail as real servers fail: 500, 503, 429 with
    /// Retry-After, a dropped connection, or a stall past the client's timeout.
    #[arg(long, value_name = "R", default_value_t = 0.0, value_parser = parse_rate)]
    fault_rate: f64,
    /// Seed of the fault draws: the same seed fails the same requests.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Keep the objects in this SQLite file, so that a restarted emulator has them again;
    /// in memory when absent.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// How long a pod the controllers create takes to become Running and Ready, e.g. `2s`,
    /// `500ms`; at once when absent.
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    pod_ready_delay: Option<std::time::Duration>,
}

fn parse_delay(s: &str) -> Result<std::time::Duration, String> {
    let (n, unit) = match s.strip_suffix("ms") {
        Some(n) => (n, 1),
        None => (
            s.strip_suffix('s')
                .ok_or_else(|| format!("{s:?} has no unit; give a duration such as 2s or 500ms"))?,
            1000,
        ),
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; give one such as 2s or 500ms"))?;
    Ok(std::time::Duration::from_millis(n * unit))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number; give a share such as 0.05"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!("{r} is outside 0.0-1.0; give a share such as 0.05"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kube-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let store = match &args.store {
        Some(path) => ObjectStore::open(path)
            .map_err(|e| format!("cannot open the store {}: {e}", path.display()))?,
        None => ObjectStore::in_memory().map_err(|e| format!("cannot create the store: {e}"))?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        let server = kube_emulator::serve(store, addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        server.faults().set_rate(args.fault_rate, args.seed);
        if let Some(delay) = args.pod_ready_delay {
            server.controllers().set_pod_ready_delay(delay);
        }
        write_kubeconfig(&server, &args.kubeconfig)?;
        println!("ready {}", server.https_url());
        wait_for_signal().await?;
        server.shutdown();
        Ok(())
    })
}

fn write_kubeconfig(server: &ApiServer, path: &PathBuf) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Over TLS (the port speaks both), so that kubectl sends the token: it sends none to a
    // plain-HTTP server.
    std::fs::write(
        path,
        server.tls_kubeconfig("emulator", server.admin_token()),
    )
    .map_err(|e| format!("cannot write the kubeconfig {}: {e}", path.display()))
}

async fn wait_for_signal() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot wait for SIGTERM: {e}"))?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(|e| format!("cannot wait for SIGINT: {e}")),
        _ = term.recv() => Ok(()),
    }
}
