//! `PUT /api/workshop/password` — a workshop account changes its own password; it takes effect
//! at once (R-WS-1, R-PWD), after the current password is checked like a login (R-SEC-1).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::password::{self, PersonalData};
use shared::domain::time;
use shared::edge::http::{Reply, json_body, method_not_allowed, respond, workshop_caller};
use shared::usecase::credentials::set_workshop_password;
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
    let account = workshop_caller(app, ctx, req).await?;
    let NewPassword { password, current_password } = json_body(req)?;
    // R-SEC-1: the current password first, checked like a login, before the policy answers.
    session::reauthenticate(&app.deps(), ctx, &account.key(), &account.password_hash, current_password).await?;
    let (id, workshop_name) = (account.id.clone(), account.workshop_name.clone());
    let candidate = password.clone();
    let violations = tokio::task::spawn_blocking(move || {
        // R-PWD-2: the workshop's own name counts as the account's name ("Intro to Unix").
        let person = PersonalData { account_id: &id, names: vec![workshop_name.as_str()], ..PersonalData::default() };
        password::violations(&candidate, &person)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("policy task: {e}")))?;
    if !violations.is_empty() {
        return Err(ApiError::PasswordPolicy { violations });
    }
    let phc = tokio::task::spawn_blocking(move || password::hash(&password).map_err(ApiError::Internal))
        .await
        .map_err(|e| ApiError::Internal(format!("hash task: {e}")))??;
    set_workshop_password(&app.deps(), ctx, &account, phc).await?;
    Ok(Reply::ok(json!({ "changed_at": time::rfc3339(ctx.now) })))
}
