//! The test harness: a fresh local service per test — its own in-memory engine (fresh tables),
//! the demo data, the real gateway on a loopback port — and an HTTP client. Tokens are real
//! RS256 JWTs, from the real login or signed by the service's own key.

use std::sync::{Arc, OnceLock};

use eccs_local::engine::Storage;
use eccs_local::{MakeTarget, Options, Runner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::KeySource;
use shared::domain::account::Realm;
use shared::domain::time;

/// One RSA key per test process (generating one per test would cost more than the test).
pub fn test_key() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| shared::edge::auth::Keys::generate_pem().expect("rsa key")).clone()
}

pub struct Env {
    pub runner: Runner,
    pub url: String,
    pub http: reqwest::Client,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl Env {
    /// A service with the demo data; the schedules do not fire by themselves.
    pub async fn start() -> Self {
        Self::with(Options { schedules: false, ..Self::options() }).await
    }

    /// A fresh in-memory engine; or, with `ECCS_TEST_DYNAMODB=http://…` (the test command sets it
    /// for its second run, on moto_server), that endpoint with tables of this test's own prefix.
    pub fn options() -> Options {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let storage = match std::env::var("ECCS_TEST_DYNAMODB") {
            Ok(endpoint) if !endpoint.is_empty() => {
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Storage::External { endpoint, prefix: format!("t{}-{n}-", std::process::id()) }
            }
            _ => Storage::Memory,
        };
        Options {
            addr: "127.0.0.1:0".into(),
            storage,
            demo: true,
            key: Some(KeySource::Pem(test_key().into())),
            target: None,
            schedules: false,
            interceptor: None,
            smtp_url: None,
            oidc: None,
        }
    }

    /// Always on the embedded engine, whatever `ECCS_TEST_DYNAMODB` says: for the fault tests,
    /// which stop and restart it.
    pub async fn start_embedded() -> Self {
        Self::with(Options { storage: Storage::Memory, ..Self::options() }).await
    }

    /// With another provisioning target (R-SYNC-4 tests).
    pub async fn with_target(target: MakeTarget) -> Self {
        Self::with(Options { target: Some(target), ..Self::options() }).await
    }

    pub async fn with(options: Options) -> Self {
        let runner = Runner::start(options).await.expect("runner starts");
        let url = runner.url.clone();
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
        Self { runner, url, http }
    }

    pub fn app(&self) -> &Arc<shared::App> {
        &self.runner.app
    }

    /// A token for a demo account, signed by the service's key now (what the login issues).
    pub fn token(&self, account: &str) -> String {
        let realm = if account.starts_with("ws") { Realm::Workshop } else { Realm::Utokyo };
        let app = self.app();
        app.keys.issue(&app.tokens, realm, account, 0, app.clock.now()).expect("token").0
    }

    /// A client whose requests come from `ip` (a loopback address such as 127.0.0.2): the
    /// gateway puts the peer address in `requestContext.http.sourceIp`, as API Gateway does.
    pub fn client_from(ip: &str) -> reqwest::Client {
        let address: std::net::IpAddr = ip.parse().expect("an IP address");
        reqwest::Client::builder().local_address(address).build().expect("client")
    }

    /// The real login, sent by `http` (see [`Env::client_from`]).
    pub async fn login_with(&self, http: &reqwest::Client, realm: &str, account: &str, password: &str) -> Response {
        let body = json!({ "realm": realm, "account": account, "password": password }).to_string().into_bytes();
        self.send(http, Method::POST, "/api/session", None, Some(body), &[]).await
    }

    /// Any call, sent by `http`.
    pub async fn call_with(
        &self,
        http: &reqwest::Client,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.send(http, method, path, token, body.map(|b| b.to_string().into_bytes()), &[]).await
    }

    /// The real login.
    pub async fn login(&self, realm: &str, account: &str, password: &str) -> Response {
        self.call(
            Method::POST,
            "/api/session",
            None,
            Some(json!({ "realm": realm, "account": account, "password": password })),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let body = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, token, body, &[]).await
    }

    /// Any bytes, any headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(&self.http, method, path, token, body, headers).await
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Response { status, headers, text }
    }

    /// Fixes the service's clock (`POST /_local/clock`).
    pub async fn set_clock(&self, rfc3339: &str) {
        let r = self.post("/_local/clock", None, json!({ "now": rfc3339 })).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app().clock.now()
    }

    pub fn today(&self) -> chrono::NaiveDate {
        time::today(self.now())
    }

    /// Runs a schedule now (`POST /_local/run/…`), with an optional event body.
    pub async fn run(&self, schedule: &str, event: Value) -> Value {
        let r = self.post(&format!("/_local/run/{schedule}"), None, event).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()
    }

    /// Every item of a table (tests only: a scan).
    pub async fn dump(
        &self,
        table: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        // By the table's local name, whatever prefix this test's tables have.
        let table = self.app().store.tables.name_of(table).expect("a table of the template").to_owned();
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .app()
                .store
                .db
                .scan()
                .table_name(&table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// All tables, as text (for the "no secret anywhere" checks).
    pub async fn dump_all(&self) -> String {
        let mut out = String::new();
        for (_, table) in shared::config::Tables::ALL {
            for item in self.dump(table).await {
                out.push_str(&format!("{table}: {item:?}\n"));
            }
        }
        out
    }
}

/// `moto_server` (pip `moto[server]`, installed into `.venv/` by scripts/test.sh) on a free
/// loopback port; killed by its PID when dropped.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Moto {
    pub async fn start() -> Self {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let bin = std::env::var("MOTO_SERVER")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| root.join(".venv/bin/moto_server"));
        assert!(bin.exists(), "{} is missing: scripts/test.sh installs moto[server] into .venv/", bin.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        // Owned from here on: dropped (killed and waited for) on every path.
        let moto = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return moto;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("moto_server did not start on port {port}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every log line of this test process, captured from the first call on: a global JSON
/// subscriber with the Lambdas' filter, asked for everything (trace), writing into memory.
pub fn captured_logs() -> String {
    static BUFFER: OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = OnceLock::new();
    let buffer = BUFFER.get_or_init(|| {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        use tracing_subscriber::prelude::*;
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || Sink(sink.clone()))
                .with_filter(shared::edge::lambda::log_filter("trace")),
        );
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An SMTP sink (pip `aiosmtpd`, from `.venv/`) on a free loopback port that keeps every message
/// it receives in a Maildir; killed by its PID when dropped. Tests read the real messages.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    pub url: String,
    dir: std::path::PathBuf,
}

/// A message the sink received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let python = root.join(".venv/bin/python");
        assert!(python.exists(), "{} is missing: scripts/test.sh installs aiosmtpd into .venv/", python.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("eccs-mail-{}-{port}", std::process::id()));
        let child = Self::spawn(&python, port, &dir);
        let sink = Self { child, port, url: format!("smtp://127.0.0.1:{port}"), dir };
        sink.wait_listening().await;
        sink
    }

    fn spawn(python: &std::path::Path, port: u16, dir: &std::path::Path) -> std::process::Child {
        std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd starts")
    }

    async fn wait_listening(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start on port {}", self.port);
    }

    /// Stops accepting mail (the next sends fail).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Accepts mail again, on the same port.
    pub async fn restart(&mut self) {
        let python = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python")).to_path_buf();
        self.child = Self::spawn(&python, self.port, &self.dir);
        self.wait_listening().await;
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else { continue };
            for entry in entries.flatten() {
                let raw = std::fs::read(entry.path()).unwrap();
                let parsed = mailparse::parse_mail(&raw).unwrap();
                use mailparse::MailHeaderMap;
                out.push(Mail {
                    to: parsed.headers.get_first_value("To").unwrap_or_default(),
                    subject: parsed.headers.get_first_value("Subject").unwrap_or_default(),
                    body: parsed.get_body().unwrap_or_default(),
                });
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
