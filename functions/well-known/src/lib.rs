//! `GET /.well-known/openid-configuration` and `GET /.well-known/jwks.json` — what the HttpApi's
//! JWT authorizer reads to verify our tokens before a function runs (R-LOGIN-1). Its Lambda
//! needs only the public key and the issuer, both from the environment ([`Published::from_env`]):
//! no client is built and nothing is called at cold start, and the key is read without a crypto
//! provider ([`PublicKey`]): this function links none.

use chrono::{DateTime, Utc};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::edge::auth;
use shared::edge::auth::{PublicKey, TokenSettings};
use shared::edge::http::{Reply, method_not_allowed, respond};
use shared::{ApiError, App, Ctx};

/// What the function publishes.
pub struct Published {
    pub key: PublicKey,
    pub tokens: TokenSettings,
}

impl Published {
    pub fn from_env() -> Result<Self, String> {
        let (key, tokens) = shared::config::published_from_env()?;
        Ok(Self { key, tokens })
    }
}

/// The local runner's entry.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    answer(app.clock.now(), app.keys.public(), &app.tokens, &req)
}

/// The Lambda's entry.
pub async fn serve(published: &'static Published, req: Request) -> Response<Body> {
    answer(Utc::now(), &published.key, &published.tokens, &req)
}

fn answer(now: DateTime<Utc>, key: &PublicKey, tokens: &TokenSettings, req: &Request) -> Response<Body> {
    let ctx = Ctx::at(now, req);
    let outcome = route(key, tokens, req);
    respond(&ctx, outcome)
}

fn route(key: &PublicKey, tokens: &TokenSettings, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::GET {
        return method_not_allowed(req, &[Method::GET]);
    }
    match req.uri().path().trim_end_matches('/').rsplit('/').next() {
        Some("openid-configuration") => Ok(Reply::ok(auth::discovery_document(&tokens.issuer))),
        Some("jwks.json") => Ok(Reply::ok(key.jwks())),
        _ => Err(ApiError::NotFound),
    }
}
