//! `GET /api/health` — the service answers; no token, no database. Its Lambda builds nothing at
//! cold start and calls nothing ([`serve`]); the local runner calls [`handle`] with its clock.

use chrono::{DateTime, Utc};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::domain::time;
use shared::edge::http::{Reply, method_not_allowed, respond};
use shared::{App, Ctx};

/// The local runner's entry: the App's clock (which tests may set).
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    answer(app.clock.now(), &req)
}

/// The Lambda's entry: no App at all.
pub async fn serve(req: Request) -> Response<Body> {
    answer(Utc::now(), &req)
}

fn answer(now: DateTime<Utc>, req: &Request) -> Response<Body> {
    let ctx = Ctx::at(now, req);
    let outcome = match *req.method() {
        Method::GET => Ok(Reply::ok(json!({ "status": "ok", "time": time::rfc3339(ctx.now) }))),
        _ => method_not_allowed(req, &[Method::GET]),
    };
    respond(&ctx, outcome)
}
