//! Benchmark of the offline pipeline: read + validate + render a synthetic repository.
//!
//! ```text
//! cargo bench --bench pipeline -- [--tenants N] [--runs R] [--dir DIR]
//! ```
//!
//! Prints the wall time of each stage (best of R runs after one warm-up), the number of
//! objects rendered and the peak resident memory of the process (VmHWM).

use std::time::{Duration, Instant};

use berth::{render, source, spec, synth};

mod support;

/// The allocator of the berth binary (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings (its `malloc_conf`): unused pages go back to the system after about a
/// second instead of ten, which keeps the peak of a run near glibc's.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &u8 = &b"dirty_decay_ms:1000\0"[0];

fn main() {
    let args = support::Args::from_env();
    let smoke = args.smoke();
    let tenants = args.number("--tenants", if smoke { 50 } else { 10_000 });
    let runs = args.number("--runs", if smoke { 1 } else { 3 });
    // `--dir DIR` reuses a repository generated earlier (`--keep DIR` writes one and keeps it).
    let given = args.value("--dir").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = match &given {
        Some(d) if d.join("platform.toml").exists() => d.clone(),
        Some(d) => {
            synth::generate_with(d, tenants, synth::Profile::from_env()).expect("generate");
            d.clone()
        }
        None => {
            synth::generate_with(tmp.path(), tenants, synth::Profile::from_env())
                .expect("generate");
            tmp.path().to_path_buf()
        }
    };

    let mut best = [Duration::MAX; 4];
    let mut digests = Duration::MAX;
    let mut objects = 0;
    let mut first_peak = 0.0f64;
    for run in 0..=runs {
        let t0 = Instant::now();
        let tree = source::read_dir(&dir).expect("read");
        let t1 = Instant::now();
        let out = spec::load_config(&tree);
        let config = out.config.expect("synthetic repository is valid");
        let t2 = Instant::now();
        let templates = render::TemplateSet::new(&tree.template_texts()).expect("templates");
        let rendered = render::render(&config, &templates).expect("render");
        let t3 = Instant::now();
        // What `--changed` computes instead of rendering (not part of the total).
        let all = render::input_digests(&config, &templates, None);
        assert_eq!(all.len(), config.tenants.len());
        let t4 = Instant::now();
        objects = rendered.objects.len();
        if run == 0 {
            // The peak of one pipeline: later runs start from memory the allocator kept.
            first_peak = support::peak_rss_mib();
            continue; // warm-up: page cache, allocator
        }
        for (slot, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t3 - t0]) {
            *slot = (*slot).min(d);
        }
        digests = digests.min(t4 - t3);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("tenants:            {tenants}");
    println!("objects rendered:   {objects}");
    println!("read files:         {:8.1} ms", ms(best[0]));
    println!("load + validate:    {:8.1} ms", ms(best[1]));
    println!("render:             {:8.1} ms", ms(best[2]));
    println!(
        "total:              {:8.1} ms  (best of {runs})",
        ms(best[3])
    );
    println!(
        "input digests:      {:8.1} ms  (every tenant, for --changed; not in the total)",
        ms(digests)
    );
    println!(
        "peak memory (RSS):  {:8.1} MiB  (one pipeline run)",
        first_peak
    );
    println!(
        "peak memory (RSS):  {:8.1} MiB  (the whole process, all runs)",
        support::peak_rss_mib()
    );
}
