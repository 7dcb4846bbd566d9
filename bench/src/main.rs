//! `eccs-bench`: one run measures everything against the same local engine and writes
//! `bench/RESULTS.md` (run it with `scripts/bench.sh`, which builds what it needs):
//!
//! - per endpoint, p50 and p99 over sequential requests through the local gateway, as a ratio to
//!   a bare GetItem (reads) or TransactWriteItems (changes) on the same engine, in the same run;
//! - DynamoDB calls per action (SDK interceptor) beside the minimum the rules need;
//! - the sync and the sweep at 10,000 and 100,000 accounts with 1% due: items read per due item
//!   and time per 1,000 due;
//! - login p50 with the argon2id parameters;
//! - release binary sizes (arm64, what is deployed) and start-up of native release builds through
//!   a local Lambda runtime API, as a ratio to a hello-world lambda_http function; the first
//!   request with and without the DynamoDB connection opened during init;
//! - requests per second at 1, 8 and 32 concurrent clients.

mod cost;
mod latency;
mod snapshot;
mod startup;
mod volume;

use std::fmt::Write as _;
use std::time::Duration;

pub struct Args {
    /// `--only-startup`: the cold path alone (sizes, start-up, init calls).
    pub only_startup: bool,
    pub requests: usize,
    pub volumes: Vec<u64>,
    pub startup: bool,
    pub out: std::path::PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        only_startup: false,
        requests: 2000,
        volumes: vec![10_000, 100_000],
        startup: true,
        out: std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/RESULTS.md")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--requests" => args.requests = it.next().and_then(|v| v.parse().ok()).unwrap_or(args.requests),
            "--volumes" => {
                args.volumes =
                    it.next().map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect()).unwrap_or_default()
            }
            "--no-startup" => args.startup = false,
            "--only-startup" => args.only_startup = true,
            "--out" => args.out = it.next().map(Into::into).unwrap_or(args.out),
            other => eprintln!("eccs-bench: ignoring {other}"),
        }
    }
    args
}

/// p50 and p99 of some durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub p50: f64,
    pub p99: f64,
    pub n: usize,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Stats { p50: at(0.50), p99: at(0.99), n: samples.len() }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or_else(|| "?".into(), |kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0));
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|o| {
            o.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l.trim_start_matches("PRETTY_NAME=").trim_matches('"').to_owned())
        })
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {memory} RAM; {os}; {rustc}; engine: dynoxide (embedded, loopback HTTP)")
}

fn main() {
    // A child of this run (startup.rs): the first random bytes of a fresh process, from the
    // provider every function uses, built with the same settings; before any runtime starts, so
    // that no worker thread shares the measurement.
    if std::env::args().nth(1).as_deref() == Some("--first-random") {
        println!("{}", startup::first_random().as_nanos());
        return;
    }
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("eccs-bench: no tokio runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() {
    let args = args();
    let started = std::time::Instant::now();
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmark results\n");
    let _ = writeln!(
        md,
        "Measured by `scripts/bench.sh` (the `eccs-bench` binary) in one run on {}.",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let _ = writeln!(md, "Machine: {}.\n", machine());
    // scripts/bench.sh passes these to this benchmark's build (not the functions') and to this run.
    let overrides: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CARGO_PROFILE_RELEASE_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        md,
        "Native release builds: the functions, whose start-up is timed, and the hello-world baseline with the workspace's \
         release profile (`lto = true`, `codegen-units = 1`, `opt-level = \"z\"`), as deployed; this benchmark, which runs the \
         functions in its own process for the latency and throughput tables, with that profile{}.\n",
        if overrides.is_empty() { String::new() } else { format!(" overridden by {}", overrides.join(" ")) }
    );
    let _ = writeln!(
        md,
        "Every figure below is measured, none is written by hand; the notes under each table explain the figures worse than their floor.\n"
    );

    if !args.only_startup {
        eprintln!("== latency and calls per action ({} requests per endpoint)", args.requests);
        match latency::run(args.requests).await {
            Ok((section, measured)) => {
                md.push_str(&section);
                md.push_str(&cost::section(&measured));
            }
            Err(e) => {
                let _ = writeln!(md, "latency: failed: {e}\n");
            }
        }
        eprintln!("== sync and sweep cost at {:?} accounts", args.volumes);
        match volume::run(&args.volumes).await {
            Ok(section) => md.push_str(&section),
            Err(e) => {
                let _ = writeln!(md, "volume: failed: {e}\n");
            }
        }
    }
    eprintln!("== binary sizes{}", if args.startup { " and start-up" } else { "" });
    match startup::run(args.startup).await {
        Ok(section) => md.push_str(&section),
        Err(e) => {
            let _ = writeln!(md, "start-up: failed: {e}\n");
        }
    }
    let _ = writeln!(md, "\nThe whole run took {:.0} s.", started.elapsed().as_secs_f64());
    if let Err(e) = std::fs::write(&args.out, &md) {
        eprintln!("eccs-bench: cannot write {}: {e}", args.out.display());
    }
    println!("{md}");
}
