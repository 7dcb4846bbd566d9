//! `POST /api/activation` — a person activates their account with the id and the activation key
//! of the printed notice and a new password (R-LC-3, R-PWD). No token: the key is the proof; a
//! wrong key counts toward the R-LOGIN-3 limit.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::edge::http::{Reply, json_body, method_not_allowed, respond};
use shared::usecase::lifecycle::activate;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activation {
    account: String,
    activation_key: String,
    password: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::POST {
        return method_not_allowed(req, &[Method::POST]);
    }
    let Activation { account, activation_key, password } = json_body(req)?;
    activate(&app.deps(), ctx, &account, &activation_key, password).await?;
    Ok(Reply::ok(json!({ "account": shared::domain::typed::identifier(&account), "activated": true })))
}
