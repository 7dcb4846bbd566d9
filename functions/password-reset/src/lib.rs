//! The self-service reset of a forgotten password (R-CRED-4), for anyone:
//!
//! - `POST /api/password-reset/start` `{account}` — `{authorization_url, expires_at}` and the
//!   flow cookie, for any account id (whether it exists or is linked is told only after the
//!   sign-in at the provider, and then in one answer for every case)
//! - `GET /api/password-reset/callback` — the provider's redirect back: when the signed-in `sub`
//!   is the one linked to the account, a one-time grant for 10 minutes. A browser is sent to the
//!   portal's reset page with the grant in the fragment (never sent to a server, so never in a
//!   log); an API client gets `{grant, expires_at}`. Otherwise 404 `reset_not_possible`.
//!
//! The grant is spent at `POST /api/password-reset`, in the account-password function: the one
//! that sets the password, with the password rules and the hashing. This one proves who the
//! person is and sends no mail.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::{time, typed};
use shared::edge::http::{Reply, json_body, method_not_allowed, respond};
use shared::store::identity::Purpose;
use shared::usecase::identity::{self, Callback};
use shared::usecase::identity_link as links;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    account: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let path = req.uri().path().trim_end_matches('/');
    let leg = path.rsplit('/').next().unwrap_or_default();
    match (req.method().clone(), leg) {
        (Method::POST, "start") => {
            let Start { account } = json_body(req)?;
            let account = typed::identifier(&account);
            if account.is_empty() || account.chars().count() > 64 {
                return Err(ApiError::BadRequest("account: give the account id (at most 64 characters)".into()));
            }
            identity::start_reset(&app.deps(), ctx, &account).await?.reply()
        }
        (Method::GET, "callback") => {
            let outcome = callback(app, ctx, req).await.map(|(grant, until)| {
                // `+` of the offset would read as a space in a query.
                let query = format!("grant={grant}&expires_at={}", time::rfc3339(until).replace('+', "%2B"));
                (query, Reply::ok(json!({ "grant": grant, "expires_at": time::rfc3339(until) })))
            });
            identity::answer_callback(&app.deps(), ctx, req, "password-reset", outcome)
        }
        (_, "callback") => method_not_allowed(req, &[Method::GET]),
        _ => method_not_allowed(req, &[Method::POST]),
    }
}

async fn callback(app: &App, ctx: &Ctx, req: &Request) -> Result<(String, chrono::DateTime<chrono::Utc>), ApiError> {
    let (flow, who) = identity::complete(&app.deps(), ctx, Purpose::Reset, Callback::from_request(req)).await?;
    links::open_grant(&app.deps(), ctx, &flow.account, &who.issuer, &who.subject).await
}
