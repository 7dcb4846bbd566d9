//! `GET, PUT /api/admin/settings` — operators see and set the remote-access capacity (R-RA-2);
//! the change is audited.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::edge::http::{Reply, json_body, method_not_allowed, no_body, operator_and_count, respond};
use shared::store::settings::MAX_CAPACITY;
use shared::usecase::remote_access;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    remote_access_capacity: i64,
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
            let (_, count) = operator_and_count(app, ctx, req).await?;
            Ok(Reply::ok(count.view()))
        }
        Method::PUT => {
            // The counter as it is, for the audit record's "before", read with the operator.
            let (operator, before) = operator_and_count(app, ctx, req).await?;
            let body: Settings = json_body(req)?;
            if !(0..=MAX_CAPACITY).contains(&body.remote_access_capacity) {
                return Err(ApiError::BadRequest(format!(
                    "remote_access_capacity must be between 0 and {MAX_CAPACITY}"
                )));
            }
            let count =
                remote_access::set_capacity(&app.deps(), ctx, &operator, before, body.remote_access_capacity).await?;
            Ok(Reply::ok(count.view()))
        }
        _ => method_not_allowed(req, &[Method::GET, Method::PUT]),
    }
}
