//! `POST /api/session` — log in with realm, account and password; get a token (R-LOGIN-1..3).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::http::{Reply, json_body, method_not_allowed, respond};
use shared::{ApiError, App, Ctx, session};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    match *req.method() {
        Method::POST => Ok(Reply::ok(session::login(app, ctx, json_body(req)?).await?)),
        _ => method_not_allowed(req, &[Method::POST]),
    }
}
