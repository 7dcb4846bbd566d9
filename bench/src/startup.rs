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
use axum::routing::{get, post};
use eccs_local::engine::Storage;
use eccs_local::template::Template;
use serde_json::Value;
use shared::config::KeySource;
use tokio::sync::Notify;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// One invocation served by the runtime API.
#[derive(Default)]
struct Invocation {
    event: Value,
    served: Option<Instant>,
    answered: Option<(Instant, bool)>,
}

#[derive(Clone)]
struct RuntimeApi {
    inner: Arc<Mutex<Invocation>>,
    done: Arc<Notify>,
}

async fn next(State(api): State<RuntimeApi>) -> impl IntoResponse {
    let first = {
        let mut inv = api.inner.lock().unwrap_or_else(|p| p.into_inner());
        let first = inv.served.is_none();
        if first {
            inv.served = Some(Instant::now());
        }
        first.then(|| inv.event.to_string())
    };
    let Some(body) = first else {
        // One invocation per process: later polls wait until the process is stopped.
        futures::future::pending::<()>().await;
        return (HeaderMap::new(), String::new());
    };
    let mut headers = HeaderMap::new();
    let deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    for (k, v) in [
        ("lambda-runtime-aws-request-id", "bench-0000-0000".to_owned()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:ap-northeast-1:000000000000:function:bench".to_owned()),
        ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".to_owned()),
    ] {
        if let Ok(v) = v.parse() {
            headers.insert(k, v);
        }
    }
    (headers, body)
}

fn answered(api: &RuntimeApi, ok: bool) {
    let mut inv = api.inner.lock().unwrap_or_else(|p| p.into_inner());
    if inv.answered.is_none() {
        inv.answered = Some((Instant::now(), ok));
    }
    api.done.notify_one();
}

async fn response(State(api): State<RuntimeApi>) -> &'static str {
    answered(&api, true);
    "{}"
}

async fn error(State(api): State<RuntimeApi>) -> &'static str {
    answered(&api, false);
    "{}"
}

struct Measure {
    startup: Duration,
    first_request: Duration,
    ok: bool,
}

/// Starts `binary` with a fresh runtime API serving `event`, until it answers.
async fn measure(binary: &Path, env: &[(String, String)], event: &Value) -> Result<Measure, String> {
    let api = RuntimeApi {
        inner: Arc::new(Mutex::new(Invocation { event: event.clone(), ..Invocation::default() })),
        done: Arc::new(Notify::new()),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let waited = tokio::time::timeout(Duration::from_secs(30), api.done.notified()).await;
    let _ = child.kill().await;
    server.abort();
    waited.map_err(|_| format!("{} did not answer in 30 s", binary.display()))?;
    let inv = api.inner.lock().unwrap_or_else(|p| p.into_inner());
    let (at, ok) = inv.answered.ok_or("no answer")?;
    let served = inv.served.unwrap_or(started);
    Ok(Measure { startup: at - started, first_request: at - served, ok })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
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

pub async fn run(measure_startup: bool) -> Result<String, String> {
    let template = Template::embedded()?;
    if !measure_startup {
        return Ok(sizes_only(&template));
    }
    let pem = shared::auth::Keys::generate_pem()?;
    let (engine, app, _) =
        eccs_local::prepare(&Storage::Memory, "http://127.0.0.1:3000", Some(KeySource::Pem(pem.clone())), true, None)
            .await?;
    let key_file = std::env::temp_dir().join(format!("eccs-bench-{}.pem", std::process::id()));
    std::fs::write(&key_file, &pem).map_err(|e| e.to_string())?;
    let env: Vec<(String, String)> = [
        ("DYNAMODB_ENDPOINT", engine.endpoint.clone()),
        ("JWT_KEY_FILE", key_file.display().to_string()),
        ("JWT_ISSUER", "http://127.0.0.1:3000".into()),
        ("AWS_REGION", "ap-northeast-1".into()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("SCHEDULER_ENDPOINT", "http://127.0.0.1:9".into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let release = root().join("target/release");
    let runs = 5;
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

    // The baseline.
    let hello_bin = release.join("hello");
    let hello_event = event_for(&app, "health")?;
    let mut hello = Vec::new();
    for _ in 0..runs {
        hello.push(measure(&hello_bin, &[], &hello_event).await?.startup);
    }
    let hello_startup = median(hello);
    let hello_size = arm64_bootstrap("", "hello").map(|(_, s)| s);

    let mut md = String::new();
    let _ = writeln!(md, "## Binary size and start-up\n");
    let _ = writeln!(
        md,
        "Size: the arm64 `bootstrap` that is deployed (`sam build` or `cargo lambda build --release --arm64`), stripped, LTO, one \
         codegen unit. Start-up: a native release build started {runs} times under a minimal Lambda runtime API served by the \
         benchmark, from process start to its first answered invocation (its own sample event, against the embedded engine), \
         median; ratio to a hello-world lambda_http function measured the same way ({:.1} ms{}).{built}\n",
        hello_startup.as_secs_f64() * 1000.0,
        hello_size.map_or(String::new(), |s| format!(", {:.1} MB arm64", s as f64 / 1e6))
    );
    let _ =
        writeln!(md, "| function | arm64 bootstrap MB | start-up ms | ratio to hello | first request ms | answered |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---|");
    for f in &template.functions {
        let binary = format!("eccs-{}", f.dir);
        let size = arm64_bootstrap(&f.logical_id, &binary)
            .map_or("not built".to_owned(), |(_, s)| format!("{:.1}", s as f64 / 1e6));
        let path = release.join(&binary);
        if !path.exists() {
            let _ = writeln!(md, "| {} | {size} | not built | | | |", f.dir);
            continue;
        }
        let event = event_for(&app, &f.dir)?;
        let mut startups = Vec::new();
        let mut firsts = Vec::new();
        let mut ok = true;
        for _ in 0..runs {
            let m = measure(&path, &env, &event).await?;
            startups.push(m.startup);
            firsts.push(m.first_request);
            ok &= m.ok;
        }
        let (s, first) = (median(startups), median(firsts));
        let _ = writeln!(
            md,
            "| {} | {size} | {:.1} | {:.1}× | {:.2} | {} |",
            f.dir,
            s.as_secs_f64() * 1000.0,
            s.as_secs_f64() / hello_startup.as_secs_f64().max(1e-9),
            first.as_secs_f64() * 1000.0,
            if ok { "yes" } else { "error (expected for schedules: no Scheduler here)" }
        );
    }

    // Warm-up during init, or not.
    let me = release.join("eccs-me");
    if me.exists() {
        let event = event_for(&app, "me")?;
        let mut warm = Vec::new();
        let mut cold = Vec::new();
        let mut cold_env = env.clone();
        cold_env.push(("ECCS_WARM_UP".into(), "off".into()));
        for _ in 0..runs * 2 {
            warm.push(measure(&me, &env, &event).await?.first_request);
            cold.push(measure(&me, &cold_env, &event).await?.first_request);
        }
        let (w, c) = (median(warm), median(cold));
        let _ = writeln!(
            md,
            "\nFirst request of `me` after start-up (from the event handed over to the answer), median of {}: with the DynamoDB \
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
        "Start-up above the baseline is the set-up each function does once: reading the key (an RSA PEM parsed, its JWK thumbprint \
         computed), building the SDK client and, by default, one DynamoDB call to open the connection. Where start-up is much \
         longer it is the first request's own work, counted in start-up: session, cloud-mail-password and workshop-password \
         verify or hash a password with argon2id (its 19 MiB touched for the first time), sweep-daily's sample event runs a whole \
         sweep over the demo accounts, and schedules waits for an EventBridge Scheduler that is not there (the SDK retries, then \
         the function answers its error).\n"
    );
    let _ = std::fs::remove_file(&key_file);
    Ok(md)
}
