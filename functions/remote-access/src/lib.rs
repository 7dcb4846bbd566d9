//! `GET, PUT /api/remote-access` — the caller's remote-access environment, on or off, with the
//! capacity and the number of users (R-RA-1..2).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::edge::http::{Reply, json_body, method_not_allowed, no_body, respond, utokyo_caller, utokyo_caller_with};
use shared::store::remote_access;
use shared::store::settings::{RemoteAccessCount, settings_key};
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Switch {
    enabled: bool,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    match *req.method() {
        Method::GET => {
            no_body(req)?;
            // The caller and the counter, in one read.
            let settings = [(app.store.tables.settings.as_str(), settings_key())];
            let (account, items) = utokyo_caller_with(app, ctx, req, &settings).await?;
            let count = RemoteAccessCount::from_item(items.first().and_then(Option::as_ref));
            Ok(Reply::ok(
                json!({ "enabled": account.remote_access, "capacity": count.capacity, "in_use": count.in_use }),
            ))
        }
        Method::PUT => {
            let account = utokyo_caller(app, ctx, req).await?;
            let body: Switch = json_body(req)?;
            let enabled = remote_access::set(app, ctx, &account, body.enabled).await?;
            Ok(Reply::ok(json!({ "enabled": enabled })))
        }
        _ => method_not_allowed(req, &[Method::GET, Method::PUT]),
    }
}
