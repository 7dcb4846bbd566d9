//! The conferencing service (R-LC-6, seed 002): a holder of a cloud-mail address applies and an
//! invitation valid 15 days is mailed to the cloud mail; applying again sends a new one (the old
//! link stops working); opening the link activates the service account.
//!
//! - `GET /api/services/conferencing` — the state
//! - `POST /api/services/conferencing` — apply, or have the invitation sent again
//! - `POST /api/services/conferencing/accept` `{token}` — the link's landing (no login: the token
//!   is the proof)

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::edge::http::LinkBody;
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, respond, utokyo_caller, utokyo_caller_and_service,
};
use shared::store::services::CONFERENCING;
use shared::usecase::services;
use shared::{ApiError, App, Ctx};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let accept = req.uri().path().trim_end_matches('/').ends_with("/accept");
    match (req.method().clone(), accept) {
        (Method::POST, true) => {
            let LinkBody { token } = json_body(req)?;
            let service_account = services::accept(&app.deps(), ctx, &token).await?;
            Ok(Reply::ok(json!({ "state": "active", "service_account": service_account })))
        }
        (Method::POST, false) => {
            no_body(req)?;
            let account = utokyo_caller(app, ctx, req).await?;
            let record = services::invite(&app.deps(), ctx, &account).await?;
            Ok(Reply::created(record.view()))
        }
        (Method::GET, false) => {
            no_body(req)?;
            // The caller and their record in one read (the token's subject's; shown only once the
            // account checks out).
            let (account, record) = utokyo_caller_and_service(app, ctx, &claims(app, ctx, req)?, CONFERENCING).await?;
            // Only a holder of a cloud-mail address has the service, as the menu says.
            account.check_cloud_mail()?;
            Ok(Reply::ok(record.map_or_else(|| json!({ "state": "none" }), |r| r.view())))
        }
        _ => method_not_allowed(req, if accept { &[Method::POST] } else { &[Method::GET, Method::POST] }),
    }
}
