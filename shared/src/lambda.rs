//! The Lambda set-up every function's `main` calls: JSON logs, the [`App`] built once at cold
//! start (clients, key, configuration), one warm-up call to DynamoDB, then the runtime loop.

use std::future::Future;

use lambda_http::{Body, Request, Response, service_fn};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::app::App;
use crate::error::ApiError;
use crate::schedule::Invocation;

/// Crates that log request or response bodies at debug or trace level — the embedded DynamoDB
/// engine does — are held at info whatever `RUST_LOG` asks, so that no item (a hash) reaches a log.
const BODY_LOGGERS: [&str; 6] =
    ["dynoxide", "aws_smithy_runtime", "aws_smithy_http_client", "aws_sdk_dynamodb", "hyper", "h2"];

/// The log filter: `RUST_LOG` (or `default`), with [`BODY_LOGGERS`] held at info.
pub fn log_filter(default: &str) -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    for target in BODY_LOGGERS {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// JSON log lines to stdout (CloudWatch), `RUST_LOG` to filter; no ANSI colours.
pub fn init_tracing() {
    let filter = log_filter("info");
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}

async fn cold_start() -> Result<&'static App, lambda_http::Error> {
    init_tracing();
    let app = App::from_env().await.map_err(|e| {
        tracing::error!(error = %e, "cold start failed");
        lambda_http::Error::from(e)
    })?;
    // The App lives as long as the execution environment.
    let app: &'static App = Box::leak(Box::new(app));
    // ECCS_WARM_UP=off skips it (the benchmark measures the difference).
    if std::env::var("ECCS_WARM_UP").as_deref() != Ok("off") {
        app.warm().await;
    }
    Ok(app)
}

/// Runs an API function: `handler` is the crate's `handle`, the same code the local runner and
/// the tests call.
pub async fn run_http<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    let app = cold_start().await?;
    lambda_http::run(service_fn(move |req| async move { Ok::<_, lambda_http::Error>(handler(app, req).await) })).await
}

/// Runs a scheduled or ops function that takes a JSON event and returns a JSON summary; it is
/// told its request id and deadline, so that it can stop cleanly before Lambda stops it.
pub async fn run_event<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Value, Invocation) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Value, ApiError>> + Send,
{
    let app = cold_start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation {
            request_id: Some(event.context.request_id.clone()),
            deadline: Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline)),
        };
        handler(app, event.payload, invocation).await.map_err(lambda_http::Error::from)
    }))
    .await
}
