//! `PUT /api/account/password` — the person changes their UTokyo Account password (R-CRED-1):
//! the current password, checked like a login (R-SEC-1), and a new one (R-PWD with the account's
//! own data, not the current one). It sets `initial_password_changed` (R-MENU-2), ends every
//! session issued before it, is audited and told to the cloud-mail address.

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
struct PasswordChange {
    current_password: String,
    new_password: String,
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
    let PasswordChange { current_password, new_password } = json_body(req)?;
    session::check_new_password(
        &app.deps(),
        ctx,
        &account,
        current_password,
        &new_password,
        "same_as_current_password",
    )
    .await?;
    let phc = tokio::task::spawn_blocking(move || password::hash(&new_password))
        .await
        .map_err(|e| ApiError::Internal(format!("hash task: {e}")))?
        .map_err(ApiError::Internal)?;
    shared::usecase::credentials::change_password(&app.deps(), ctx, &account, phc).await?;
    // The token this request came with has ended too: the person logs in with the new password.
    Ok(Reply::ok(json!({ "changed_at": time::rfc3339(ctx.now), "sessions_ended": true })))
}
