//! `GET, PUT /api/remote-access` — the caller's remote-access environment, on or off, with the
//! capacity and the number of users (R-RA-1..2).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::account::Realm;
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, respond, utokyo_caller_and_count, utokyo_caller_of,
};
use shared::usecase::remote_access;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Switch {
    enabled: bool,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    match *req.method() {
        Method::GET => {
            no_body(req)?;
            // The caller and the counter, in one read.
            let (account, count) = utokyo_caller_and_count(app, ctx, req).await?;
            Ok(Reply::ok(
                json!({ "enabled": account.remote_access, "capacity": count.capacity, "in_use": count.in_use }),
            ))
        }
        Method::PUT => {
            // One round trip: the token is verified here, the account's state is a condition of
            // the switch's own transaction.
            let claims = claims(app, ctx, req)?;
            let body: Switch = match json_body(req) {
                Ok(body) => body,
                // A revoked or expired account's token is refused with its 401 before the body.
                Err(e) => return utokyo_caller_of(app, ctx, &claims).await.and(Err(e)),
            };
            if claims.realm != Realm::Utokyo {
                // The workshop token's 401 or 403, after its account is read like everywhere.
                return utokyo_caller_of(app, ctx, &claims).await.and(Err(ApiError::RealmNotAllowed));
            }
            let enabled = remote_access::set(&app.deps(), ctx, &claims, body.enabled).await?;
            Ok(Reply::ok(json!({ "enabled": enabled })))
        }
        _ => method_not_allowed(req, &[Method::GET, Method::PUT]),
    }
}
