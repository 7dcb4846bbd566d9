//! `PUT /api/cloud-mail/password` — a new cloud-mail password, checked against the policy
//! (every broken rule listed) and the account's own password, kept only as its SHA-512 crypt
//! hash until the next minute 0 (R-CMP-1..3, R-PWD). The current password comes with it and is
//! checked first, like a login (R-SEC-1): without it, the "same as the account password" answer
//! would test guesses of the university password behind a stolen token.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::password;
use shared::domain::time;
use shared::edge::http::{Reply, json_body, method_not_allowed, respond, utokyo_caller};
use shared::usecase::session;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
    current_password: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::PUT {
        return method_not_allowed(req, &[Method::PUT]);
    }
    let account = utokyo_caller(app, ctx, req).await?;
    let NewPassword { password, current_password } = json_body(req)?;
    account.check_cloud_mail()?;
    session::check_new_password(&app.deps(), ctx, &account, current_password, &password, "same_as_account_password")
        .await?;
    let crypt = tokio::task::spawn_blocking(move || password::mail_crypt(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("crypt task: {e}")))?
        .map_err(ApiError::Internal)?;
    let effective_at = shared::usecase::cloud_mail::change_password(&app.deps(), ctx, &account, crypt).await?;
    Ok(Reply::accepted(json!({ "effective_at": time::rfc3339(effective_at) })))
}
