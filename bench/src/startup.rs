//! Release binary sizes (arm64, as deployed) and start-up of native release builds: process start
//! to the first answered invocation through a minimal Lambda runtime API served here, as a ratio
//! to a hello-world lambda_http function measured the same way; and the first request with and
//! without the DynamoDB connection opened during init.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use eccs_local::engine::Storage;
use eccs_local::lambda::{Calls, RuntimeApi, operation, public_pem, secrets_manager, serve};
use eccs_local::template::Template;
use serde_json::Value;
use shared::config::KeySource;

use crate::snapshot::Snapshot;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

struct Measure {
    startup: Duration,
    first_request: Duration,
    /// CPU time (user + system, every thread) of the process until its first answer.
    cpu: Duration,
    /// The calls it made to the stand-ins before its first invocation: during init.
    init_calls: Vec<String>,
    ok: bool,
}

/// What the started functions call instead of AWS: a proxy in front of the embedded engine
/// (DynamoDB), a Secrets Manager that knows the bench's secrets ([`eccs_local::lambda`]) and an
/// EventBridge Scheduler that has every schedule asked for. Each notes every call in `calls`.
#[derive(Clone)]
struct StandIns {
    calls: Calls,
    engine: String,
    http: reqwest::Client,
    /// The Scheduler stand-in's schedules: name → state.
    schedules: Arc<Mutex<std::collections::HashMap<String, String>>>,
}

async fn dynamodb_proxy(
    State(s): State<StandIns>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    s.calls.note(format!("DynamoDB {}", operation(&headers)));
    let mut req = s.http.post(&s.engine).body(body);
    for (k, v) in &headers {
        if k != axum::http::header::HOST && k != axum::http::header::CONTENT_LENGTH {
            req = req.header(k.as_str(), v.as_bytes());
        }
    }
    match req.send().await {
        Ok(r) => {
            let status = axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap_or_default();
            let kind = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-amz-json-1.0")
                .to_owned();
            let bytes = r.bytes().await.unwrap_or_default();
            (status, [(axum::http::header::CONTENT_TYPE, kind)], bytes).into_response()
        }
        Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// EventBridge Scheduler's GetSchedule and UpdateSchedule (its REST API: `/schedules/{name}`)
/// for the ops function: every schedule it is asked for exists, in the state last set.
async fn scheduler(
    State(s): State<StandIns>,
    method: axum::http::Method,
    axum::extract::Path(name): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    let arn = format!("arn:aws:scheduler:ap-northeast-1:000000000000:schedule/default/{name}");
    let mut states = s.schedules.lock().unwrap_or_else(|p| p.into_inner());
    if method == axum::http::Method::PUT {
        s.calls.note("Scheduler UpdateSchedule".into());
        let state =
            serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("State")?.as_str().map(str::to_owned));
        states.insert(name, state.unwrap_or_else(|| "ENABLED".into()));
        return (json, serde_json::json!({ "ScheduleArn": arn }).to_string()).into_response();
    }
    s.calls.note("Scheduler GetSchedule".into());
    let state = states.get(&name).cloned().unwrap_or_else(|| "ENABLED".into());
    let body = serde_json::json!({
        "Arn": arn,
        "Name": name,
        "GroupName": "default",
        "State": state,
        "ScheduleExpression": "cron(0 * * * ? *)",
        "ScheduleExpressionTimezone": "Asia/Tokyo",
        "FlexibleTimeWindow": { "Mode": "OFF" },
        "Target": {
            "Arn": "arn:aws:lambda:ap-northeast-1:000000000000:function:eccs-sync-hourly",
            "RoleArn": "arn:aws:iam::000000000000:role/eccs-scheduler-invoke"
        }
    });
    (json, body.to_string()).into_response()
}

async fn serve_stand_in(router: Router) -> Result<String, String> {
    serve(router).await.map(|addr| format!("http://{addr}")).map_err(|e| e.to_string())
}

/// CPU time of every thread of `pid` so far (`/proc/<pid>/task/*/schedstat`, nanoseconds).
fn cpu_of(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let ns: u64 = tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    Duration::from_nanos(ns)
}

/// The CA bundle of this machine, given to the timed starts as the one place their roots are
/// (see [`lambda_environment`]).
const CA_BUNDLES: [&str; 2] = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// What Lambda defines in every execution environment of an OS-only runtime (provided.al2023),
/// beside the function's own variables and the runtime API's address: nothing of the shell the
/// benchmark runs in (its `RUST_LOG`, `AWS_PROFILE`, `SSL_CERT_DIR`, …) reaches a timed start.
///
/// The system's roots (read by the identity provider's and the SMTP client at their first
/// connection) as the Lambda image keeps them: one bundle. Debian keeps them twice, the bundle
/// and a directory of one file per root (290 here), and rustls-native-certs reads both; that is
/// this machine's layout, not Lambda's, so the starts are pointed at the bundle alone
/// (`SSL_CERT_FILE`, no `SSL_CERT_DIR`).
fn lambda_environment() -> Vec<(&'static str, &'static str)> {
    let mut env = vec![
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "bench"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
    ];
    if let Some(bundle) = CA_BUNDLES.into_iter().find(|p| Path::new(p).is_file()) {
        env.push(("SSL_CERT_FILE", bundle));
    }
    env
}

/// Starts `binary` with a fresh runtime API serving `event`, until it answers.
async fn measure(
    binary: &Path,
    env: &[(String, String)],
    event: &Value,
    stand_ins: Option<&StandIns>,
) -> Result<Measure, String> {
    if let Some(s) = stand_ins {
        s.calls.clear();
    }
    let api = RuntimeApi::serve(event).await.map_err(|e| e.to_string())?;
    // Built before the clock starts: its look for the CA bundle is the benchmark's, not the start's.
    let lambda_env = lambda_environment();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(lambda_env)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let pid = child.id();
    let waited = tokio::time::timeout(Duration::from_secs(30), api.answered()).await;
    // Answered, the process waits for its next invocation: its CPU time is its start-up's.
    let cpu = pid.map(cpu_of).unwrap_or_default();
    let _ = child.kill().await;
    waited.map_err(|_| format!("{} did not answer in 30 s", binary.display()))?;
    let answer = api.answer().ok_or("no answer")?;
    let (at, ok) = (answer.at, answer.ok);
    let served = api.served_at().unwrap_or(started);
    let init_calls = stand_ins.map(|s| s.calls.before(served)).unwrap_or_default();
    Ok(Measure { startup: at - started, first_request: at - served, cpu, init_calls, ok })
}

/// Hello-world's runs: start-up, CPU and init.
#[derive(Default)]
struct Baseline {
    startup: Vec<Duration>,
    cpu: Vec<Duration>,
    init: Vec<Duration>,
}

impl Baseline {
    fn push(&mut self, m: &Measure) {
        self.startup.push(m.startup);
        self.cpu.push(m.cpu);
        self.init.push(m.startup.saturating_sub(m.first_request));
    }

    fn medians(&self) -> (Duration, Duration, Duration) {
        (median(self.startup.clone()), median(self.cpu.clone()), median(self.init.clone()))
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// How long the first random bytes take in this process: aws-lc seeds its generator at first use
/// (in a Lambda function, at the first TLS handshake: the DynamoDB warm-up of every cold start).
pub fn first_random() -> Duration {
    let started = Instant::now();
    let mut bytes = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    started.elapsed()
}

/// Two variants measured in turn, each first every other time (`i` is the round): neither gains
/// from following the other.
fn in_turn(i: usize) -> [bool; 2] {
    if i.is_multiple_of(2) { [true, false] } else { [false, true] }
}

/// Whether aws-lc-sys was built without its jitter source, read as its build script reads it:
/// Cargo gives this crate's build the same environment (`[env]` included); the target's own
/// variable first, then the plain one, and a value true if it starts with a digit other than 0,
/// `y`, `on` or `t`.
fn jitter_entropy_off() -> bool {
    #[cfg(target_arch = "x86_64")]
    let for_target = option_env!("AWS_LC_SYS_NO_JITTER_ENTROPY_x86_64_unknown_linux_gnu");
    #[cfg(target_arch = "aarch64")]
    let for_target = option_env!("AWS_LC_SYS_NO_JITTER_ENTROPY_aarch64_unknown_linux_gnu");
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let for_target: Option<&str> = None;
    let value = for_target.or(option_env!("AWS_LC_SYS_NO_JITTER_ENTROPY")).unwrap_or_default().to_lowercase();
    let off = ["0", "n", "off", "f"].iter().any(|p| value.starts_with(p));
    !off && (value.starts_with(|c: char| c.is_ascii_digit()) || ["y", "on", "t"].iter().any(|p| value.starts_with(p)))
}

/// [`first_random`] in `runs` fresh processes (this binary, `--first-random`), median.
async fn first_random_in_fresh_processes(runs: usize) -> Result<Duration, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let out = tokio::process::Command::new(&me).arg("--first-random").output().await.map_err(|e| e.to_string())?;
        let ns: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("--first-random printed {:?}", String::from_utf8_lossy(&out.stdout)))?;
        samples.push(Duration::from_nanos(ns));
    }
    Ok(median(samples))
}

fn size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The deployed artifact: SAM's build output, or cargo lambda's.
fn arm64_bootstrap(logical_id: &str, binary: &str) -> Option<(PathBuf, u64)> {
    [
        root().join("infra/.aws-sam/build").join(logical_id).join("bootstrap"),
        root().join("target/lambda").join(binary).join("bootstrap"),
    ]
    .into_iter()
    .find_map(|p| size(&p).map(|s| (p, s)))
}

/// The first event file of a function, with its placeholders filled.
fn event_for(app: &shared::App, dir: &str) -> Result<Value, String> {
    let folder = root().join("events").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let file = files.into_iter().find(|f| !f.to_string_lossy().contains("no-token")).ok_or("no event")?;
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    serde_json::from_str(&eccs_local::fill_placeholders(app, &text)?).map_err(|e| e.to_string())
}

/// The sizes alone (`--no-startup`): they need only the arm64 build, not the native ones.
fn sizes_only(template: &Template) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## Binary size
"
    );
    let _ = writeln!(
        md,
        "The arm64 `bootstrap` that is deployed (`sam build` or `cargo lambda build --release --arm64`), stripped, LTO, one \
         codegen unit. Start-up was not measured in this run (`--no-startup`).\n"
    );
    let hello = arm64_bootstrap("", "hello").map_or("not built".to_owned(), |(_, s)| format!("{:.1}", s as f64 / 1e6));
    let _ = writeln!(md, "| function | arm64 bootstrap MB |");
    let _ = writeln!(md, "|---|---:|");
    let _ = writeln!(md, "| hello-world lambda_http (baseline) | {hello} |");
    for f in &template.functions {
        let size = arm64_bootstrap(&f.logical_id, &format!("eccs-{}", f.dir))
            .map_or("not built".to_owned(), |(_, s)| format!("{:.1}", s as f64 / 1e6));
        let _ = writeln!(md, "| {} | {size} |", f.dir);
    }
    let _ = writeln!(
        md,
        "\nEvery function carries the AWS SDK for DynamoDB with its HTTP and TLS stack (aws-lc), which is most of the size; the \
         baseline has none of it.\n"
    );
    md
}

/// Puts the data and the Scheduler stand-in's schedules back as they were before the first
/// start ([`Snapshot`]), so that each start of a function times the same work.
async fn same_state(snapshot: &Snapshot, app: &shared::App, stand_ins: &StandIns) -> Result<(), String> {
    stand_ins.schedules.lock().unwrap_or_else(|p| p.into_inner()).clear();
    snapshot.restore(&app.store.db).await?;
    // The engine's own work after the writes (SQLite's) is done before a start is timed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

/// A function's environment as the template gives it, pointed at the stand-ins: the public key
/// for all; the private key's secret for the session; the SMTP URL's secret for the mail
/// senders; the OIDC client secret for the link and the reset (neither read at init).
fn env_for(f: &eccs_local::template::Function, base: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = base.to_vec();
    let has = |name: &str| f.environment.iter().any(|e| e == name);
    if has("JWT_PRIVATE_KEY_SECRET") {
        env.push(("JWT_PRIVATE_KEY_SECRET".into(), "bench/jwt-private".into()));
    }
    if has("SMTP_URL_SECRET") {
        env.push(("SMTP_URL_SECRET".into(), "bench/smtp-url".into()));
    }
    if has("OIDC_CLIENT_SECRET_SECRET") {
        env.push(("OIDC_ISSUER".into(), "http://127.0.0.1:9".into()));
        env.push(("OIDC_CLIENT_ID".into(), "eccs".into()));
        env.push(("OIDC_CLIENT_SECRET_SECRET".into(), "bench/oidc-client-secret".into()));
    }
    env
}

/// The functions that open no DynamoDB connection: health, well-known and web (#17's ≤ 1.3×
/// goal), and the ops function, which builds its Scheduler client and calls nothing at init.
const NO_DYNAMODB: [&str; 4] = ["health", "well-known", "web", "schedules"];

/// The init calls a function should make (#17's goals): none for [`NO_DYNAMODB`]; one DynamoDB
/// warm-up for the others; and for the session one Secrets Manager call, for its private key
/// (the SMTP URL and the OIDC client secret are read at their first use, not at init).
fn expected_init_calls(f: &eccs_local::template::Function) -> usize {
    if NO_DYNAMODB.contains(&f.dir.as_str()) {
        return 0;
    }
    1 + usize::from(f.environment.iter().any(|e| e == "JWT_PRIVATE_KEY_SECRET"))
}

fn summarize(calls: &[String]) -> String {
    if calls.is_empty() {
        return "none".into();
    }
    let mut counted: Vec<(String, usize)> = Vec::new();
    for c in calls {
        match counted.iter_mut().find(|(k, _)| k == c) {
            Some((_, n)) => *n += 1,
            None => counted.push((c.clone(), 1)),
        }
    }
    counted.iter().map(|(k, n)| format!("{k}×{n}")).collect::<Vec<_>>().join(", ")
}

pub async fn run(measure_startup: bool) -> Result<String, String> {
    let template = Template::embedded()?;
    if !measure_startup {
        return Ok(sizes_only(&template));
    }
    let pem = shared::edge::auth::Keys::generate_pem()?;
    let (engine, app, _) = eccs_local::prepare(
        &Storage::Memory,
        "http://127.0.0.1:3000",
        Some(KeySource::Pem(pem.clone().into())),
        true,
        None,
    )
    .await?;
    let stand_ins = StandIns {
        calls: Calls::default(),
        engine: engine.endpoint.clone(),
        http: reqwest::Client::new(),
        schedules: Arc::default(),
    };
    // The demo data as loaded: every start of a function meets it.
    let snapshot = Snapshot::take(&app.store.db).await?;
    let secrets = [
        ("bench/jwt-private".to_owned(), pem.clone()),
        ("bench/smtp-url".to_owned(), "smtp://127.0.0.1:9".to_owned()),
        ("bench/oidc-client-secret".to_owned(), "bench-client-secret".to_owned()),
    ];
    let dynamodb = serve_stand_in(Router::new().fallback(dynamodb_proxy).with_state(stand_ins.clone())).await?;
    let secrets = serve_stand_in(secrets_manager(secrets.into(), stand_ins.calls.clone())).await?;
    let scheduler = serve_stand_in(
        Router::new().route("/schedules/{name}", get(scheduler).put(scheduler)).with_state(stand_ins.clone()),
    )
    .await?;
    let base: Vec<(String, String)> = [
        ("DYNAMODB_ENDPOINT", dynamodb),
        ("SECRETSMANAGER_ENDPOINT", secrets),
        ("JWT_PUBLIC_KEY", public_pem(&pem)?.replace('\n', " ")),
        ("JWT_ISSUER", "http://127.0.0.1:3000".into()),
        ("AWS_REGION", "ap-northeast-1".into()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("SCHEDULER_ENDPOINT", scheduler),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // The timed starts reach the engine straight; the counting proxy, the benchmark's instrument,
    // adds its own hop to every DynamoDB call (measured below, "Init of `me`"), so each function's
    // init calls are counted in one more start of its own through it.
    let mut direct = base.clone();
    for (_, endpoint) in direct.iter_mut().filter(|(k, _)| k == "DYNAMODB_ENDPOINT") {
        endpoint.clone_from(&stand_ins.engine);
    }
    // ECCS_BENCH_BINARIES: another folder of binaries (a quick check of the benchmark itself
    // with debug builds); the figures are only meaningful for release builds.
    let release =
        std::env::var("ECCS_BENCH_BINARIES").map(PathBuf::from).unwrap_or_else(|_| root().join("target/release"));
    // Even: hello-world and the function start first as often as each other.
    let runs: usize = 16;
    // When the measured binaries were built (scripts/bench.sh rebuilds them first; run alone, the
    // benchmark takes what is there).
    let built: Vec<chrono::DateTime<chrono::Utc>> = template
        .functions
        .iter()
        .filter_map(|f| std::fs::metadata(release.join(format!("eccs-{}", f.dir))).and_then(|m| m.modified()).ok())
        .map(chrono::DateTime::<chrono::Utc>::from)
        .collect();
    let built = match (built.iter().min(), built.iter().max()) {
        (Some(a), Some(b)) => {
            format!(" Native binaries built {} – {} UTC.", a.format("%Y-%m-%d %H:%M"), b.format("%H:%M"))
        }
        _ => String::new(),
    };

    // The baseline: hello-world is started `runs` times before the table and once beside every
    // run of every function (first every other time), and each function's ratios are to the
    // hello-world runs made beside its own, so that a machine that slows down or speeds up during
    // the run moves both alike.
    let hello_bin = release.join("hello");
    let hello_event = event_for(&app, "health")?;
    let mut all_hello = Baseline::default();
    for _ in 0..runs {
        all_hello.push(&measure(&hello_bin, &[], &hello_event, None).await?);
    }
    let hello_size = arm64_bootstrap("", "hello").map(|(_, s)| s);

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| function | arm64 bootstrap MB | start-up ms | × hello | CPU ms | CPU × hello | init ms | init × hello | init calls | expected | first request ms | answered |"
    );
    let _ = writeln!(table, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|");
    let mut sizes: Vec<(String, f64)> = Vec::new();
    let mut ratios: Vec<(String, f64)> = Vec::new();
    let mut init_ratios: Vec<(String, f64)> = Vec::new();
    let mut calls_ok = true;
    for f in &template.functions {
        let binary = format!("eccs-{}", f.dir);
        let size = arm64_bootstrap(&f.logical_id, &binary).map(|(_, s)| s as f64 / 1e6);
        if let Some(s) = size {
            sizes.push((f.dir.clone(), s));
        }
        let size = size.map_or("not built".to_owned(), |s| format!("{s:.1}"));
        let path = release.join(&binary);
        if !path.exists() {
            let _ = writeln!(table, "| {} | {size} | not built | | | | | | | | | |", f.dir);
            continue;
        }
        let event = event_for(&app, &f.dir)?;
        let env = env_for(f, &direct);
        let mut startups = Vec::new();
        let mut firsts = Vec::new();
        let mut inits = Vec::new();
        let mut cpus = Vec::new();
        let mut ok = true;
        let mut beside = Baseline::default();
        for i in 0..runs {
            // Before both starts, which take turns to come first after the pause: whatever
            // the put-back leaves behind (the engine runs in this process), or the pause itself,
            // is beside hello-world's starts as much as the function's.
            same_state(&snapshot, &app, &stand_ins).await?;
            let (h, m) = if i.is_multiple_of(2) {
                let h = measure(&hello_bin, &[], &hello_event, None).await?;
                (h, measure(&path, &env, &event, None).await?)
            } else {
                let m = measure(&path, &env, &event, None).await?;
                (measure(&hello_bin, &[], &hello_event, None).await?, m)
            };
            beside.push(&h);
            all_hello.push(&h);
            startups.push(m.startup);
            inits.push(m.startup.saturating_sub(m.first_request));
            firsts.push(m.first_request);
            cpus.push(m.cpu);
            ok &= m.ok;
        }
        same_state(&snapshot, &app, &stand_ins).await?;
        let counted = measure(&path, &env_for(f, &base), &event, Some(&stand_ins)).await?;
        let init_calls = counted.init_calls;
        ok &= counted.ok;
        let (s, first, cpu) = (median(startups), median(firsts), median(cpus));
        let (hello_startup, hello_cpu, hello_init) = beside.medians();
        let ratio = s.as_secs_f64() / hello_startup.as_secs_f64().max(1e-9);
        ratios.push((f.dir.clone(), ratio));
        let init = median(inits);
        let init_ratio = init.as_secs_f64() / hello_init.as_secs_f64().max(1e-9);
        init_ratios.push((f.dir.clone(), init_ratio));
        let expected = expected_init_calls(f);
        calls_ok &= init_calls.len() == expected;
        let _ = writeln!(
            table,
            "| {} | {size} | {:.1} | {ratio:.2}× | {:.1} | {:.2}× | {:.1} | {init_ratio:.2}× | {} | {expected} | {:.2} | {} |",
            f.dir,
            s.as_secs_f64() * 1000.0,
            cpu.as_secs_f64() * 1000.0,
            cpu.as_secs_f64() / hello_cpu.as_secs_f64().max(1e-9),
            init.as_secs_f64() * 1000.0,
            summarize(&init_calls),
            first.as_secs_f64() * 1000.0,
            if ok { "yes" } else { "error" }
        );
    }
    let (hello_startup, hello_cpu, hello_init) = all_hello.medians();
    let hello_runs = all_hello.startup.len();
    let first_random = first_random_in_fresh_processes(runs).await?;
    let mut md = String::new();
    let _ = writeln!(md, "## The cold path: size, start-up and the calls made during init\n");
    let _ = writeln!(
        md,
        "Size: the arm64 `bootstrap` that is deployed (`sam build` or `cargo lambda build --release --arm64`), stripped, with the \
         workspace's release profile. Start-up: a native build with the same profile started {runs} times under a minimal Lambda runtime API \
         served by the benchmark, from process start to its first answered invocation (its own sample event), median; CPU: the \
         process's user + system time until that answer (every thread, from `/proc/<pid>/task/*/schedstat`), median. Both as \
         ratios to a hello-world lambda_http function measured the same way, started beside every run of every function, each function's ratios to the runs beside its \
         own (over all {hello_runs} runs: {:.1} ms wall, {:.1} ms CPU{}). Before each pair of starts the data is put back as the \
         demo loaded it (every item of every table; a wrong activation key counts toward a lockout, a password change ends the \
         event's token: without it later starts would time other work), then 20 ms pass, and the \
         two take turns to start first. These timed starts \
         reach the embedded engine straight, as a function in AWS reaches DynamoDB. Init calls: what the function called \
         before its first invocation, counted in one more start by the benchmark's stand-ins — a proxy in front of the \
         embedded engine for DynamoDB, a Secrets Manager on loopback that knows the bench's secrets, an EventBridge Scheduler \
         on loopback that has every schedule it is asked for — with the environment the \
         template gives each function (the public key in `JWT_PUBLIC_KEY`; a secret's id only where the template names one), \
         beside what Lambda defines (`AWS_LAMBDA_*`, `LANG`, `TZ`, `PATH`) and nothing of the shell the benchmark runs in; \
         the system's roots as the Lambda image keeps them, one CA bundle (`SSL_CERT_FILE`; this machine's Debian also \
         keeps one file per root in a directory, which rustls-native-certs would read besides). \
         Init: from process start to its first request for an invocation, what Lambda reports as Init Duration (hello-world \
         {:.1} ms); start-up is init plus the first request's own work.{built}\n",
        hello_startup.as_secs_f64() * 1000.0,
        hello_cpu.as_secs_f64() * 1000.0,
        hello_size.map_or(String::new(), |s| format!(", {:.1} MB arm64", s as f64 / 1e6)),
        hello_init.as_secs_f64() * 1000.0
    );
    md.push_str(&table);
    let mut sorted: Vec<f64> = sizes.iter().map(|(_, s)| *s).collect();
    sorted.sort_by(f64::total_cmp);
    let bare = ["health", "well-known", "web"];
    let _ = writeln!(md, "\nGoals (#17), as measured in this run:\n");
    if !sorted.is_empty() {
        let median_size = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let over: Vec<String> = sizes.iter().filter(|(_, s)| *s > 8.0).map(|(d, s)| format!("{d} {s:.1}")).collect();
        let bare_sizes: Vec<String> =
            sizes.iter().filter(|(d, _)| bare.contains(&d.as_str())).map(|(d, s)| format!("{d} {s:.1}")).collect();
        let _ = writeln!(
            md,
            "- median arm64 bootstrap {median_size:.1} MB (goal ≤ 6); over 8 MB: {} (goal: none); health, well-known, web: {} MB (goal ≤ 3.5 each)",
            if over.is_empty() { "none".to_owned() } else { over.join(", ") },
            bare_sizes.join(", ")
        );
    }
    let db_ratios: Vec<f64> =
        ratios.iter().filter(|(d, _)| !NO_DYNAMODB.contains(&d.as_str())).map(|(_, r)| *r).collect();
    let bare_ratios: Vec<String> =
        ratios.iter().filter(|(d, _)| bare.contains(&d.as_str())).map(|(d, r)| format!("{d} {r:.2}×")).collect();
    let mut db_sorted = db_ratios.clone();
    db_sorted.sort_by(f64::total_cmp);
    let db_median = db_sorted.get(db_sorted.len() / 2).copied().unwrap_or_default();
    let within: Vec<String> = ratios
        .iter()
        .filter(|(d, r)| !NO_DYNAMODB.contains(&d.as_str()) && *r <= 2.0)
        .map(|(d, r)| format!("{d} {r:.2}×"))
        .collect();
    let _ = writeln!(
        md,
        "- start-up of the functions that open a DynamoDB connection: median {:.2}×, at most {:.2}× hello-world (goal ≤ 2×; \
         within it: {} of {}{}; the long ones are their first request's own work, below); health, well-known, web: {} \
         (goal ≤ 1.3×)",
        db_median,
        db_sorted.last().copied().unwrap_or_default(),
        within.len(),
        db_sorted.len(),
        if within.is_empty() { String::new() } else { format!(": {}", within.join(", ")) },
        bare_ratios.join(", ")
    );
    let mut db_inits: Vec<f64> =
        init_ratios.iter().filter(|(d, _)| !NO_DYNAMODB.contains(&d.as_str())).map(|(_, r)| *r).collect();
    db_inits.sort_by(f64::total_cmp);
    let bare_inits: Vec<String> =
        init_ratios.iter().filter(|(d, _)| bare.contains(&d.as_str())).map(|(d, r)| format!("{d} {r:.2}×")).collect();
    let over_two: Vec<String> = init_ratios
        .iter()
        .filter(|(d, r)| !NO_DYNAMODB.contains(&d.as_str()) && *r > 2.0)
        .map(|(d, r)| format!("{d} {r:.2}×"))
        .collect();
    let _ = writeln!(
        md,
        "- init alone (the cold start without the first request's work): median {:.2}×, at most {:.2}× hello-world for the \
         functions with DynamoDB (over 2×: {}); health, well-known, web: {}",
        db_inits.get(db_inits.len() / 2).copied().unwrap_or_default(),
        db_inits.last().copied().unwrap_or_default(),
        if over_two.is_empty() { "none".to_owned() } else { over_two.join(", ") },
        bare_inits.join(", ")
    );
    let ops = |of: &[(String, f64)]| of.iter().find(|(d, _)| d == "schedules").map(|(_, r)| format!("{r:.2}×"));
    if let (Some(startup), Some(init)) = (ops(&ratios), ops(&init_ratios)) {
        let _ = writeln!(
            md,
            "- schedules, the ops function, opens no DynamoDB connection (no goal of its own): start-up {startup}, init \
             {init}; its cold start builds the Scheduler client and calls nothing, and its sample event pauses a schedule \
             (GetSchedule, UpdateSchedule, GetSchedule again, to the stand-in)"
        );
    }
    let _ = writeln!(
        md,
        "- where the bytes go (`cargo bloat --crates` on the native release build; the figures are in README, \"Lean \
         functions\"): the hello-world baseline is lambda_http with hyper, tokio and serde; health, web and well-known add \
         `shared`'s HTTP edge (JSON logs, the error type) and, for well-known, an ASN.1 parser and SHA-256 — no crypto \
         provider; a function with DynamoDB adds aws-lc (about a third of it: jsonwebtoken's and rustls's providers reach \
         most of the library), rustls, the SDK's HTTP client and runtime, aws-sdk-dynamodb and SigV4; the password \
         functions add zxcvbn's word lists and its regular-expression engines (R-PWD-2), about 2 MB; a function that \
         reads a secret or sends mail adds the Secrets Manager client or lettre. Gone since the first measurement: \
         chrono-tz's database (a fixed JST offset) and aws-config's default credential chain (STS, profile files, IMDS)."
    );
    let _ = writeln!(
        md,
        "- init calls as expected for every function (none for health, well-known, web and schedules; one DynamoDB warm-up for the others; \
         and for the session one Secrets Manager call, for its private key; the SMTP URL and the OIDC client secret wait for \
         their first use): {}\n",
        if calls_ok { "yes" } else { "no — see the table" }
    );

    let jitter = if jitter_entropy_off() {
        "its CPU-jitter entropy source off, as `.cargo/config.toml` builds every function"
    } else {
        "its CPU-jitter entropy source on (AWS_LC_SYS_NO_JITTER_ENTROPY is not set true in this build)"
    };
    let _ = writeln!(
        md,
        "The first random bytes of a fresh process, from aws-lc (the provider of every function; what the first TLS \
         handshake — in Lambda the DynamoDB warm-up of every cold start — asks for first), with {jitter}: {:.3} ms, \
         median of {runs} processes. The stand-ins here are plain HTTP, so the table above does not include it; \
         bench/BUILD-SETTINGS.md has the figure with the source on.\n",
        first_random.as_secs_f64() * 1000.0
    );

    // The measurements below start `me` with its sample event (a read): the data as loaded.
    same_state(&snapshot, &app, &stand_ins).await?;

    // The runtime alone: the template's hello-world (multi-thread) beside one on the
    // current-thread runtime every function uses.
    let hello_one = release.join("hello-current-thread");
    if hello_one.exists() {
        let (mut template, mut one) = (Baseline::default(), Baseline::default());
        for i in 0..runs * 2 {
            for current in in_turn(i) {
                let m = measure(if current { &hello_one } else { &hello_bin }, &[], &hello_event, None).await?;
                if current { one.push(&m) } else { template.push(&m) }
            }
        }
        let ((t, t_cpu, _), (o, o_cpu, _)) = (template.medians(), one.medians());
        let _ = writeln!(
            md,
            "The runtime alone: hello-world on tokio's current-thread runtime, as every function here runs, starts in \
             {:.2} ms ({:.2} ms CPU) against {:.2} ms ({:.2} ms CPU) for the template's multi-thread runtime, the \
             baseline of the table, median of {} each, alternated: {:.2}×. Against that one, the median function with \
             DynamoDB would be {:.1}× instead of {:.1}×.\n",
            o.as_secs_f64() * 1000.0,
            o_cpu.as_secs_f64() * 1000.0,
            t.as_secs_f64() * 1000.0,
            t_cpu.as_secs_f64() * 1000.0,
            runs * 2,
            o.as_secs_f64() / t.as_secs_f64().max(1e-9),
            db_median * t.as_secs_f64() / o.as_secs_f64().max(1e-9),
            db_median,
        );
    }

    // Warm-up during init, or not.
    let me = release.join("eccs-me");
    if me.exists() {
        let event = event_for(&app, "me")?;
        let mut warm = Vec::new();
        let mut cold = Vec::new();
        let mut cold_env = direct.clone();
        cold_env.push(("ECCS_WARM_UP".into(), "off".into()));
        for _ in 0..runs * 2 {
            warm.push(measure(&me, &direct, &event, None).await?.first_request);
            cold.push(measure(&me, &cold_env, &event, None).await?.first_request);
        }
        let (w, c) = (median(warm), median(cold));
        // The counting proxy is the benchmark's instrument: the same start through it shows what
        // its extra hop would add to the table's timings, which are taken without it.
        let (mut proxied, mut straight, mut beside) = (Vec::new(), Vec::new(), Baseline::default());
        for i in 0..runs * 2 {
            beside.push(&measure(&hello_bin, &[], &hello_event, None).await?);
            for through_proxy in in_turn(i) {
                let m = measure(&me, if through_proxy { &base } else { &direct }, &event, None).await?;
                let init = m.startup.saturating_sub(m.first_request);
                if through_proxy { proxied.push(init) } else { straight.push(init) }
            }
        }
        let (p, d, h) = (median(proxied), median(straight), beside.medians().2);
        let hop_ms = (p.as_secs_f64() - d.as_secs_f64()) * 1000.0;
        let _ = writeln!(
            md,
            "Init of `me`, median of {}: with its DynamoDB warm-up through the counting proxy {:.2} ms ({:.1}× hello-world's \
             {:.2} ms, started beside it), straight to the engine {:.2} ms ({:.1}×): the proxy's hop is {hop_ms:+.2} ms of it, which is why the table's \
             starts reach the engine straight and each function's init calls are counted in one more start through the proxy.\n",
            runs * 2,
            p.as_secs_f64() * 1000.0,
            p.as_secs_f64() / h.as_secs_f64().max(1e-9),
            h.as_secs_f64() * 1000.0,
            d.as_secs_f64() * 1000.0,
            d.as_secs_f64() / h.as_secs_f64().max(1e-9),
        );
        let _ = writeln!(
            md,
            "First request of `me` after start-up (from the event handed over to the answer), median of {}: with the DynamoDB \
             connection opened during init {:.2} ms, without {:.2} ms — {:.1}× slower without. Here the engine is plain HTTP on \
             loopback; in Lambda the first call also pays the TLS handshake to DynamoDB (~0.7 s at 128 MB by published \
             measurements), which the warm-up moves into init.\n",
            runs * 2,
            w.as_secs_f64() * 1000.0,
            c.as_secs_f64() * 1000.0,
            c.as_secs_f64() / w.as_secs_f64().max(1e-9)
        );
    }
    let _ = writeln!(
        md,
        "Start-up above the baseline is the set-up each function with DynamoDB does once: the public key parsed (an RSA PEM, its JWK thumbprint), \
         the SDK's configuration read from the environment and its client built (trusting Amazon's five roots, so no \
         certificate store is read), one DynamoDB call to open the connection, and for the session its private key, read \
         while that call is made (the SMTP URL waits for the first message, the OIDC client secret for the first code \
         exchange). Where start-up is much longer it is the first request's own work, counted in \
         start-up: session, cloud-mail-password, workshop-password and account-password verify or hash a password with \
         argon2id (its 19 MiB touched for the first time), password-reset reads the system's CA bundle \
         for the identity provider at its first call to it (here the provider is not there), not at init, sweep-daily's \
         sample event runs a whole sweep over the demo accounts, \
         and schedules makes its first Scheduler calls (a new connection, three calls in sequence). For the others, what is above 2× hello-world is that set-up, which hello-world does not do, and the \
         first request's own work: its own DynamoDB read (the caller's account) and the RS256 check of its token; in init, \
         the SDK client's build and the warm-up's round trip.\n"
    );
    Ok(md)
}
