//! `GET /.well-known/openid-configuration` and `GET /.well-known/jwks.json` — what the HttpApi's
//! JWT authorizer reads to verify our tokens before a function runs (R-LOGIN-1).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::http::{Reply, method_not_allowed, respond};
use shared::{ApiError, App, Ctx, auth};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
    let outcome = route(app, &req);
    respond(&ctx, outcome)
}

fn route(app: &App, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::GET {
        return method_not_allowed(req, &[Method::GET]);
    }
    match req.uri().path().trim_end_matches('/').rsplit('/').next() {
        Some("openid-configuration") => Ok(Reply::ok(auth::discovery_document(&app.tokens.issuer))),
        Some("jwks.json") => Ok(Reply::ok(app.keys.jwks())),
        _ => Err(ApiError::NotFound),
    }
}
