//! `PUT /api/identity-link` — the caller records that the identity verification service is
//! linked to their account (or no longer is), which lets the help desk reset their password
//! without an in-person check (R-LC-4).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::http::{Reply, json_body, method_not_allowed, respond, utokyo_caller};
use shared::store::lifecycle::set_identity_link;
use shared::{ApiError, App, Ctx, time};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    linked: bool,
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
    let account = utokyo_caller(app, ctx, req).await?;
    let Link { linked } = json_body(req)?;
    let at = set_identity_link(app, ctx, &account, linked).await?;
    Ok(Reply::ok(json!({ "linked": linked, "linked_at": at.map(time::rfc3339) })))
}
