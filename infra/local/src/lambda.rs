//! Stand-ins, on loopback, for what a function binary talks to outside itself when Lambda starts
//! it: the runtime API (one invocation per process) and Secrets Manager. With them the real
//! binaries start as in AWS, from their environment alone. The benchmark times cold starts under
//! them (bench/src/startup.rs); the cold-start test checks the production wiring under them
//! (tests/integration/cold_start.rs).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Serves `router` on a loopback port of its own until the process ends.
pub async fn serve(router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every call made to the stand-ins that share it, in order, with when it came.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<(Instant, String)>>>);

impl Calls {
    pub fn note(&self, call: String) {
        lock(&self.0).push((Instant::now(), call));
    }

    /// The calls so far.
    pub fn all(&self) -> Vec<String> {
        lock(&self.0).iter().map(|(_, c)| c.clone()).collect()
    }

    /// The calls made before `at` (a function's init calls: before it asked for its first event).
    pub fn before(&self, at: Instant) -> Vec<String> {
        lock(&self.0).iter().filter(|(when, _)| *when < at).map(|(_, c)| c.clone()).collect()
    }

    pub fn clear(&self) {
        lock(&self.0).clear();
    }
}

/// The operation of an AWS JSON request, from its `X-Amz-Target` (`secretsmanager.GetSecretValue`
/// → `GetSecretValue`).
pub fn operation(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("?")
        .to_owned()
}

/// A Secrets Manager that knows `secrets` (id → value) and notes every operation asked of it in
/// `calls` (`Secrets Manager GetSecretValue`); an unknown id gets its `ResourceNotFoundException`.
pub fn secrets_manager(secrets: HashMap<String, String>, calls: Calls) -> Router {
    Router::new().fallback(secret_value).with_state((Arc::new(secrets), calls))
}

async fn secret_value(
    State((secrets, calls)): State<(Arc<HashMap<String, String>>, Calls)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    calls.note(format!("Secrets Manager {}", operation(&headers)));
    let json = [(header::CONTENT_TYPE, "application/x-amz-json-1.1")];
    let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("SecretId")?.as_str().map(str::to_owned));
    match id.and_then(|id| secrets.get(&id).map(|v| (id, v.clone()))) {
        Some((id, value)) => {
            let arn = format!("arn:aws:secretsmanager:ap-northeast-1:000000000000:secret:{id}");
            (json, json!({ "ARN": arn, "Name": id, "SecretString": value, "VersionId": "v1" }).to_string())
                .into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            json,
            json!({ "__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret." })
                .to_string(),
        )
            .into_response(),
    }
}

/// What the function posted for its invocation.
#[derive(Clone, Debug)]
pub struct Answer {
    pub at: Instant,
    /// `response`, not `error` (the invocation's or init's).
    pub ok: bool,
    pub body: Value,
}

#[derive(Default)]
struct Invocation {
    event: String,
    served: Option<Instant>,
    answer: Option<Answer>,
}

#[derive(Clone)]
struct Shared {
    invocation: Arc<Mutex<Invocation>>,
    done: Arc<Notify>,
}

/// Lambda's runtime API for one process: the first `next` gets `event`, later polls wait until
/// the process is stopped; the function's first answer (its response, its invocation's error or
/// its init error) is kept. Dropped, it accepts no new connection (a `next` already parked
/// waits until the process that asked is stopped).
pub struct RuntimeApi {
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
}

impl RuntimeApi {
    pub async fn serve(event: &Value) -> std::io::Result<Self> {
        let shared = Shared {
            invocation: Arc::new(Mutex::new(Invocation { event: event.to_string(), ..Invocation::default() })),
            done: Arc::new(Notify::new()),
        };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { shared, server, address })
    }

    /// Waits until the function has answered (or failed its init).
    pub async fn answered(&self) {
        let notified = self.shared.done.notified();
        if lock(&self.shared.invocation).answer.is_some() {
            return;
        }
        notified.await;
    }

    /// When the function asked for its first event: the end of its init.
    pub fn served_at(&self) -> Option<Instant> {
        lock(&self.shared.invocation).served
    }

    pub fn answer(&self) -> Option<Answer> {
        lock(&self.shared.invocation).answer.clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(api): State<Shared>) -> impl IntoResponse {
    let event = {
        let mut inv = lock(&api.invocation);
        let first = inv.served.is_none();
        if first {
            inv.served = Some(Instant::now());
        }
        first.then(|| inv.event.clone())
    };
    let Some(event) = event else {
        std::future::pending::<()>().await;
        return (HeaderMap::new(), String::new());
    };
    let deadline = (SystemTime::now() + Duration::from_secs(60))
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("lambda-runtime-aws-request-id", "stand-in-0000-0000".to_owned()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:ap-northeast-1:000000000000:function:stand-in".to_owned(),
        ),
        ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".to_owned()),
    ] {
        if let Ok(v) = v.parse() {
            headers.insert(k, v);
        }
    }
    (headers, event)
}

fn answered(api: &Shared, ok: bool, body: &[u8]) {
    let at = Instant::now();
    lock(&api.invocation).answer.get_or_insert_with(|| Answer {
        at,
        ok,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    api.done.notify_one();
}

async fn response(State(api): State<Shared>, body: axum::body::Bytes) -> &'static str {
    answered(&api, true, &body);
    "{}"
}

async fn error(State(api): State<Shared>, body: axum::body::Bytes) -> &'static str {
    answered(&api, false, &body);
    "{}"
}

/// The public key PEM (SubjectPublicKeyInfo) of a private key PEM: what the template's
/// `JwtPublicKeyPem` parameter carries.
pub fn public_pem(private: &str) -> Result<String, String> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let der = pem::parse(private).map_err(|e| e.to_string())?.into_contents();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|e| e.to_string())?;
    let public = pair.public_key().as_der().map_err(|e| e.to_string())?;
    Ok(pem::encode(&pem::Pem::new("PUBLIC KEY", public.as_ref().to_vec())))
}
