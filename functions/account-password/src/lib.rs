//! The function that sets a person's UTokyo Account password, in either of the two ways:
//!
//! - `PUT /api/account/password` `{current_password, new_password}` — the person changes it
//!   (R-CRED-1): the current password, checked like a login (R-SEC-1), and a new one (R-PWD with
//!   the account's own data, not the current one). It sets `initial_password_changed`
//!   (R-MENU-2), ends every session issued before it, is audited and told to the cloud-mail
//!   address.
//! - `POST /api/password-reset` `{grant, new_password, remove_second_factor}` — the last step of
//!   the self-service reset (R-CRED-4): the one-time grant the password-reset function gave after
//!   the sign-in at the identity provider, and the new password (R-PWD); every session ends;
//!   audited, with a notice to the cloud-mail address. Here rather than in password-reset, so that
//!   the password rules and hashing (zxcvbn's word lists, argon2) are in one function and the
//!   identity provider's client in the other.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::password;
use shared::domain::time;
use shared::edge::http::{Reply, json_body, method_not_allowed, respond, utokyo_caller};
use shared::usecase::{identity_link, session};
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reset {
    grant: String,
    new_password: String,
    #[serde(default)]
    remove_second_factor: bool,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let reset = req.uri().path().trim_end_matches('/').ends_with("/password-reset");
    match (req.method().clone(), reset) {
        (Method::PUT, false) => change(app, ctx, req).await,
        (Method::POST, true) => {
            let Reset { grant, new_password, remove_second_factor } = json_body(req)?;
            let removed =
                identity_link::reset_with_grant(&app.deps(), ctx, &grant, new_password, remove_second_factor).await?;
            Ok(Reply::ok(json!({ "reset": true, "second_factor_removed": removed })))
        }
        (_, false) => method_not_allowed(req, &[Method::PUT]),
        (_, true) => method_not_allowed(req, &[Method::POST]),
    }
}

async fn change(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
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
