//! `PUT /api/workshop/password` — a workshop account changes its own password; it takes effect
//! at once (R-WS-1, R-PWD).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::http::{Reply, json_body, method_not_allowed, respond, workshop_caller};
use shared::password::{self, PersonalData};
use shared::store::accounts::set_workshop_password;
use shared::{ApiError, App, Ctx, time};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::PUT {
        return method_not_allowed(req, &[Method::PUT]);
    }
    let account = workshop_caller(app, ctx, req).await?;
    let NewPassword { password } = json_body(req)?;
    let id = account.id.clone();
    let phc = tokio::task::spawn_blocking(move || {
        let person = PersonalData { account_id: &id, ..PersonalData::default() };
        match password::violations(&password, &person) {
            v if v.is_empty() => password::hash(&password).map_err(ApiError::Internal),
            violations => Err(ApiError::PasswordPolicy { violations }),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("policy task: {e}")))??;
    set_workshop_password(&app.store, ctx, &account, phc).await?;
    Ok(Reply::ok(json!({ "changed_at": time::rfc3339(ctx.now) })))
}
