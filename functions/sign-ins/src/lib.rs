//! `GET /api/account/sign-ins` — the caller's last 20 sign-in attempts, newest first: when,
//! from which address and browser, and how each ended (R-CRED-2), so that a person can tell
//! whether someone else is trying their account.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::edge::http::{Reply, claims, method_not_allowed, no_body, respond, utokyo_caller_of};
use shared::{ApiError, App, Ctx};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::GET {
        return method_not_allowed(req, &[Method::GET]);
    }
    no_body(req)?;
    // The caller and the records at once (of the token's subject; shown only once the account
    // checks out). The token is verified once, for both.
    let claims = claims(app, ctx, req)?;
    let subject = shared::domain::account::account_key(shared::domain::account::Realm::Utokyo, &claims.sub);
    let (_account, records) = tokio::try_join!(utokyo_caller_of(app, ctx, &claims), app.store.sign_ins_of(&subject))?;
    Ok(Reply::ok(json!({ "items": records.iter().map(|r| r.view()).collect::<Vec<_>>() })))
}
