//! `eccs-local`: the whole service on one machine, no AWS, no Docker (SPEC §4).
//!
//! - [`engine`] — dynoxide, the embedded DynamoDB engine, on loopback; tables from the template
//! - [`template`] — reads `infra/template.yaml`, the one source of truth
//! - [`functions`] — every function crate's handler, by folder name
//! - [`gateway`] — routes like API Gateway's HTTP API (payload 2.0); `/_local/*` controls
//! - [`scheduler`] — fires the template's schedules by the settable Clock
//! - [`demo`] — the demo data
//! - [`lambda`] — Lambda's runtime API and Secrets Manager on loopback, to start the real function
//!   binaries as Lambda does (the benchmark and the cold-start test)
//!
//! [`Runner`] puts them together; the binary and the tests both use it.

pub mod demo;
pub mod engine;
pub mod functions;
pub mod gateway;
pub mod lambda;
pub mod scheduler;
pub mod template;

use std::sync::Arc;

use shared::App;
use shared::config::{Config, KeySource};
use shared::domain::time::Clock;
use shared::provision::Target;

use crate::engine::{Engine, Storage};
use crate::gateway::Local;
use crate::scheduler::Scheduler;
use crate::template::Template;

/// Builds the provisioning target from the store.
pub type MakeTarget = Box<dyn Fn(&shared::store::Store) -> Arc<dyn Target> + Send>;

/// How to start.
pub struct Options {
    pub addr: String,
    pub storage: Storage,
    pub demo: bool,
    /// Where the JWT key comes from; by default a file in the data folder (generated once), or a
    /// fresh key for `--memory`.
    pub key: Option<KeySource>,
    /// Replaces the directory target (tests of refused changes).
    pub target: Option<MakeTarget>,
    /// Whether to fire the schedules by the clock.
    pub schedules: bool,
    /// An SDK interceptor on the DynamoDB client: the benchmark's and the tests' call counter.
    pub interceptor: Option<aws_sdk_dynamodb::config::SharedInterceptor>,
    /// Where mail goes (`smtp://127.0.0.1:2525`); none: it waits in the outbox.
    pub smtp_url: Option<String>,
    /// The identity verification provider (R-CRED-4); none: the link and the reset answer that
    /// no provider is configured.
    pub oidc: Option<shared::config::OidcSettings>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3000".into(),
            storage: Storage::Dir(engine::default_data_dir()),
            demo: false,
            key: None,
            target: None,
            schedules: true,
            interceptor: None,
            smtp_url: None,
            oidc: None,
        }
    }
}

/// A running local service.
pub struct Runner {
    pub url: String,
    pub app: Arc<App>,
    pub engine: Engine,
    pub scheduler: Arc<Scheduler>,
    pub demo: Option<demo::Loaded>,
}

fn key_source(storage: &Storage) -> Result<KeySource, String> {
    Ok(match storage {
        Storage::Dir(dir) => KeySource::File(dir.join("jwt-private.pem")),
        Storage::Memory | Storage::External { .. } => KeySource::Pem(shared::edge::auth::Keys::generate_pem()?.into()),
    })
}

/// The engine, the tables and the App, without a server: what `invoke` needs.
/// `scheduler_endpoint`: where the `schedules` ops function finds EventBridge Scheduler (moto in
/// tests, `SCHEDULER_ENDPOINT` for `invoke`); AWS when absent.
pub async fn prepare(
    storage: &Storage,
    issuer: &str,
    key: Option<KeySource>,
    demo: bool,
    scheduler_endpoint: Option<String>,
) -> Result<(Engine, Arc<App>, Option<demo::Loaded>), String> {
    prepare_counted(storage, issuer, key, demo, scheduler_endpoint, None, None, None).await
}

/// [`prepare`], with every DynamoDB call seen by the interceptor `counter` and mail sent to `smtp_url`.
#[allow(clippy::too_many_arguments)]
pub async fn prepare_counted(
    storage: &Storage,
    issuer: &str,
    key: Option<KeySource>,
    demo: bool,
    scheduler_endpoint: Option<String>,
    counter: Option<aws_sdk_dynamodb::config::SharedInterceptor>,
    smtp_url: Option<String>,
    oidc: Option<shared::config::OidcSettings>,
) -> Result<(Engine, Arc<App>, Option<demo::Loaded>), String> {
    let template = Template::embedded()?;
    let engine = Engine::start(storage).await?;
    let key = match key {
        Some(k) => k,
        None => key_source(storage)?,
    };
    let mut config = Config::local(&engine.endpoint, issuer, key);
    config.schedules.endpoint = scheduler_endpoint;
    config.interceptor = counter;
    config.smtp_url = smtp_url.map(shared::config::Secret::from);
    config.oidc = oidc;
    if let Storage::External { prefix, .. } = storage {
        config.tables = shared::config::Tables::with_prefix(prefix);
        // Another engine may be shared by many services and answer one request at a time
        // (moto_server under the test command): a call may wait its turn longer than 8 s.
        config.local_operation_timeout = Some(std::time::Duration::from_secs(120));
    }
    let app = App::local(config, Clock::settable())?;
    engine::create_tables(&app.store, &template).await?;
    let loaded = if demo { Some(demo::load(&app).await?) } else { None };
    Ok((engine, Arc::new(app), loaded))
}

impl Runner {
    pub async fn start(options: Options) -> Result<Self, String> {
        let template = Template::embedded()?;
        let listener =
            tokio::net::TcpListener::bind(&options.addr).await.map_err(|e| format!("bind {}: {e}", options.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let url = format!("http://{addr}");
        let (engine, app, loaded) = prepare_counted(
            &options.storage,
            &url,
            options.key,
            options.demo,
            None,
            options.interceptor,
            options.smtp_url,
            options.oidc,
        )
        .await?;
        let app = match options.target {
            Some(make) => {
                let app = Arc::try_unwrap(app).map_err(|_| "app is shared")?;
                let target = make(&app.store);
                Arc::new(app.with_target(target))
            }
            None => app,
        };
        let scheduler = Arc::new(Scheduler::from_template(&template)?);
        let local = Arc::new(Local::new(app.clone(), &template, scheduler.clone())?);
        tokio::spawn(async move {
            if let Err(e) = gateway::serve(listener, local).await {
                tracing::error!(error = %e, "gateway stopped");
            }
        });
        if options.schedules {
            tokio::spawn(scheduler.clone().run(app.clone()));
        }
        Ok(Self { url, app, engine, scheduler, demo: loaded })
    }
}

/// Runs `function` once on the event `text`, as `sam local invoke` would: an API function gets
/// the payload 2.0 event through lambda_http's adapter and answers a Lambda HTTP response; a
/// scheduled function answers its summary. Placeholders in the event: `${TOKEN:realm:account}`
/// becomes a token the local key signs now, `${DATE:+30}` the JST date 30 days from today.
pub async fn invoke(app: &Arc<App>, function: &str, text: &str) -> Result<serde_json::Value, String> {
    let handler = functions::find(function).ok_or_else(|| {
        let names: Vec<_> = functions::all().into_iter().map(|(d, _)| d).collect();
        format!("no function {function:?}; one of: {}", names.join(", "))
    })?;
    let text = fill_placeholders(app, text)?;
    let event: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("event: {e}"))?;
    match handler {
        functions::Handler::Http(h) => gateway::invoke_http(app, h, event).await,
        functions::Handler::Event(h) => {
            h(app, event, shared::usecase::schedule::Invocation::default()).await.map_err(|e| e.body().to_string())
        }
    }
}

/// Replaces `${TOKEN:realm:account}` and `${DATE:+N}` (see [`invoke`]).
pub fn fill_placeholders(app: &App, text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let end = after.find('}').ok_or("unterminated ${…}")?;
        let spec = after.get(..end).unwrap_or_default();
        out.push_str(&placeholder(app, spec)?);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

fn placeholder(app: &App, spec: &str) -> Result<String, String> {
    let now = app.clock.now();
    match spec.split_once(':') {
        Some(("TOKEN", who)) => {
            let (realm, account) = who.split_once(':').ok_or("expected ${TOKEN:realm:account}")?;
            let realm: shared::domain::account::Realm =
                serde_json::from_value(serde_json::Value::String(realm.into())).map_err(|e| format!("{realm}: {e}"))?;
            Ok(app.keys.issue(&app.tokens, realm, account, 0, now).map_err(|e| e.to_string())?.0)
        }
        Some(("DATE", days)) => {
            let days: i64 = days.trim_start_matches('+').parse().map_err(|e| format!("${{DATE:{days}}}: {e}"))?;
            Ok((shared::domain::time::today(now) + chrono::Duration::days(days)).to_string())
        }
        _ => Err(format!("unknown placeholder ${{{spec}}}")),
    }
}
