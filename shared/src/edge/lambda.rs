//! The Lambda set-up every function's `main` calls: JSON logs, then what the function needs
//! built once at cold start — for most, the [`App`] (configuration, the DynamoDB client, the key,
//! where [`Setup`] asks secrets and the mailer, and one warm-up call to DynamoDB made while the
//! secrets are read); for health and web nothing ([`run_bare`]); for well-known the public key
//! ([`run_with_state`]); for the ops function its Scheduler client ([`run_event_with_state`]) — then
//! the runtime loop.
//!
//! Every `main` runs these on tokio's current-thread runtime: an execution environment gets one
//! invocation at a time, so worker threads would only be started, parked and woken across every
//! round trip of the cold start (bench/BUILD-SETTINGS.md has the measurement). Concurrent calls
//! within a request still overlap on the one thread; argon2id and the password checks go to the
//! blocking pool (`spawn_blocking`), so they never hold it.

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, IntoResponse, Request, Response, service_fn};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::app::{App, Setup};
use crate::error::ApiError;
use crate::usecase::schedule::Invocation;

/// Crates that log request or response bodies at debug or trace level — the embedded DynamoDB
/// engine does — are held at info whatever `RUST_LOG` asks, so that no item (a hash) reaches a log.
const BODY_LOGGERS: [&str; 6] =
    ["dynoxide", "aws_smithy_runtime", "aws_smithy_http_client", "aws_sdk_dynamodb", "hyper", "h2"];

/// The log filter: `RUST_LOG` (or `default`) in its plain form (`info`, `warn,eccs=debug`), with
/// [`BODY_LOGGERS`] held at info at most. `Targets`, not `EnvFilter`: no regular-expression
/// engine in every function for a filter that never needs one.
pub fn log_filter(default: &str) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let spec = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned());
    let mut filter: Targets = spec.parse().or_else(|_| default.parse()).unwrap_or_default();
    let cap = match filter.default_level() {
        Some(level) if level > LevelFilter::INFO => LevelFilter::INFO,
        Some(level) => level,
        None => LevelFilter::OFF,
    };
    for target in BODY_LOGGERS {
        filter = filter.with_target(target, cap);
    }
    filter
}

/// JSON log lines to stdout (CloudWatch), `RUST_LOG` to filter; no ANSI colours.
pub fn init_tracing() {
    use tracing_subscriber::prelude::*;
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .with_current_span(false)
        .with_target(false)
        .with_filter(log_filter("info"));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// A response handed to the runtime as the handler built it. lambda_http's own answer for a
/// `Response<Body>` reads every body again and decodes it by its Content-Type's charset, which
/// links encoding_rs's tables for every legacy encoding (about 150 KB in each function) to
/// re-decode what is already UTF-8 text ([`Body::Text`]: every API answer, the UI's text files)
/// or bytes ([`Body::Binary`]: sent base64-encoded, as API Gateway expects).
pub struct AsBuilt(pub Response<Body>);

impl IntoResponse for AsBuilt {
    fn into_response(self) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

async fn cold_start(setup: Setup) -> Result<&'static App, lambda_http::Error> {
    init_tracing();
    let app = App::from_env(setup).await.map_err(cold_start_failed)?;
    // The App lives as long as the execution environment.
    Ok(Box::leak(Box::new(app)))
}

/// A function's own cold start ([`run_with_state`], [`run_event_with_state`]): the log set-up,
/// then `init`, whose state lives as long as the execution environment.
fn init_state<S>(init: impl FnOnce() -> Result<S, String>) -> Result<&'static S, lambda_http::Error> {
    init_tracing();
    Ok(Box::leak(Box::new(init().map_err(cold_start_failed)?)))
}

fn cold_start_failed(e: String) -> lambda_http::Error {
    tracing::error!(error = %e, "cold start failed");
    lambda_http::Error::from(e)
}

/// Runs an API function: `handler` is the crate's `handle`, the same code the local runner and
/// the tests call. Its cold start reads no secret and builds no mailer.
pub async fn run_http<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    run_http_with(Setup::default(), handler).await
}

/// [`run_http`] for a function that reads secrets or sends mail ([`Setup::secrets`],
/// [`Setup::mail`]).
pub async fn run_http_with<F, Fut>(setup: Setup, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    let app = cold_start(setup).await?;
    lambda_http::run(service_fn(
        move |req| async move { Ok::<_, lambda_http::Error>(AsBuilt(handler(app, req).await)) },
    ))
    .await
}

/// Runs an API function that needs nothing at cold start (health, web): no configuration, no
/// client, no key, no call — only the log set-up.
pub async fn run_bare<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    init_tracing();
    lambda_http::run(service_fn(move |req| async move { Ok::<_, lambda_http::Error>(AsBuilt(handler(req).await)) }))
        .await
}

/// Runs an API function whose cold start is its own `init` (well-known: the public key from the
/// environment, nothing else).
pub async fn run_with_state<S, I, F, Fut>(init: I, handler: F) -> Result<(), lambda_http::Error>
where
    S: Send + Sync + 'static,
    I: FnOnce() -> Result<S, String>,
    F: Fn(&'static S, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    let state = init_state(init)?;
    lambda_http::run(service_fn(
        move |req| async move { Ok::<_, lambda_http::Error>(AsBuilt(handler(state, req).await)) },
    ))
    .await
}

/// Runs a scheduled function that takes a JSON event and returns a JSON summary; it is told its
/// request id and deadline, so that it can stop cleanly before Lambda stops it.
pub async fn run_event<F, Fut>(setup: Setup, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Value, Invocation) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    let app = cold_start(setup).await?;
    event_loop(app, handler).await
}

/// [`run_event`] for a function whose cold start is its own `init` (the ops function: the
/// Scheduler client, no table, no key, no call).
pub async fn run_event_with_state<S, I, F, Fut>(init: I, handler: F) -> Result<(), lambda_http::Error>
where
    S: Send + Sync + 'static,
    I: FnOnce() -> Result<S, String>,
    F: Fn(&'static S, Value, Invocation) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    event_loop(init_state(init)?, handler).await
}

async fn event_loop<S, F, Fut>(state: &'static S, handler: F) -> Result<(), lambda_http::Error>
where
    S: Send + Sync + 'static,
    F: Fn(&'static S, Value, Invocation) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation {
            request_id: Some(event.context.request_id.clone()),
            deadline: Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline)),
        };
        handler(state, event.payload, invocation).await.map_err(lambda_http::Error::from)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;

    #[tokio::test]
    async fn a_response_reaches_the_runtime_as_the_handler_built_it() {
        let mut built = Response::new(Body::Text("{\"message\":\"利用者が見つかりません\"}".into()));
        *built.status_mut() = StatusCode::NOT_FOUND;
        built.headers_mut().insert("content-type", "application/json; charset=utf-16".parse().unwrap());
        built.headers_mut().append("set-cookie", "a=1".parse().unwrap());
        built.headers_mut().append("set-cookie", "b=2".parse().unwrap());
        let sent = AsBuilt(built).into_response().await;
        assert_eq!(sent.status(), StatusCode::NOT_FOUND);
        assert_eq!(sent.headers().get_all("set-cookie").iter().count(), 2);
        // Not re-decoded by the charset the header names (lambda_http's own answer would).
        assert!(matches!(sent.body(), Body::Text(t) if t == "{\"message\":\"利用者が見つかりません\"}"));

        let mut png = Response::new(Body::Binary(vec![0x89, b'P', b'N', b'G']));
        png.headers_mut().insert("content-type", "text/plain".parse().unwrap());
        let sent = AsBuilt(png).into_response().await;
        assert!(matches!(sent.body(), Body::Binary(b) if b == &[0x89, b'P', b'N', b'G']));
        assert!(matches!(AsBuilt(Response::new(Body::Empty)).into_response().await.body(), Body::Empty));
    }
}
