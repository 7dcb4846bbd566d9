//! Every function of the workspace, by its folder name under `functions/` (which is how the
//! template names it, through `CodeUri`). The runner calls the very `handle` that each Lambda's
//! `main` runs.

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::usecase::schedule::Invocation;
use shared::{ApiError, App};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type HttpHandler = for<'a> fn(&'a App, Request) -> BoxFuture<'a, Response<Body>>;
pub type EventHandler = for<'a> fn(&'a App, Value, Invocation) -> BoxFuture<'a, Result<Value, ApiError>>;

#[derive(Clone, Copy)]
pub enum Handler {
    /// An API function (API Gateway HTTP API, payload 2.0).
    Http(HttpHandler),
    /// A scheduled or ops function (a JSON event in, a JSON summary out).
    Event(EventHandler),
}

macro_rules! http {
    ($krate:ident) => {{
        fn call<'a>(app: &'a App, req: Request) -> BoxFuture<'a, Response<Body>> {
            Box::pin($krate::handle(app, req))
        }
        Handler::Http(call)
    }};
}

macro_rules! event {
    ($krate:ident) => {{
        fn call<'a>(app: &'a App, event: Value, invocation: Invocation) -> BoxFuture<'a, Result<Value, ApiError>> {
            Box::pin($krate::handle(app, event, invocation))
        }
        Handler::Event(call)
    }};
}

/// `(folder, handler)` for every function crate.
pub fn all() -> Vec<(&'static str, Handler)> {
    vec![
        ("session", http!(eccs_session)),
        ("me", http!(eccs_me)),
        ("health", http!(eccs_health)),
        ("well-known", http!(eccs_well_known)),
        ("remote-access", http!(eccs_remote_access)),
        ("cloud-mail-address", http!(eccs_cloud_mail_address)),
        ("cloud-mail-password", http!(eccs_cloud_mail_password)),
        ("workshop-password", http!(eccs_workshop_password)),
        ("admin-settings", http!(eccs_admin_settings)),
        ("applications", http!(eccs_applications)),
        ("proxy-targets", http!(eccs_proxy_targets)),
        ("web", http!(eccs_web)),
        ("admin-accounts", http!(eccs_admin_accounts)),
        ("admin-runs", http!(eccs_admin_runs)),
        ("activation", http!(eccs_activation)),
        ("identity-link", http!(eccs_identity_link)),
        ("password-reset", http!(eccs_password_reset)),
        ("services", http!(eccs_services)),
        ("cloud-mail-forwarding", http!(eccs_cloud_mail_forwarding)),
        ("account-password", http!(eccs_account_password)),
        ("sign-ins", http!(eccs_sign_ins)),
        ("account-totp", http!(eccs_account_totp)),
        ("sync-hourly", event!(eccs_sync_hourly)),
        ("sweep-daily", event!(eccs_sweep_daily)),
        ("schedules", event!(eccs_schedules)),
    ]
}

pub fn find(dir: &str) -> Option<Handler> {
    all().into_iter().find(|(d, _)| *d == dir).map(|(_, h)| h)
}
