//! `GET /api/health` — the service answers; no token, no database.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::http::{Reply, method_not_allowed, respond};
use shared::{ApiError, App, Ctx, time};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
    let outcome = route(&ctx, &req);
    respond(&ctx, outcome)
}

fn route(ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    match *req.method() {
        Method::GET => Ok(Reply::ok(json!({ "status": "ok", "time": time::rfc3339(ctx.now) }))),
        _ => method_not_allowed(req, &[Method::GET]),
    }
}
