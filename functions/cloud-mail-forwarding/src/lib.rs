//! Cloud-mail forwarding (R-LC-7, seed 001): a forwarding address takes effect only once the link
//! mailed to it is opened, and then at the next minute 0 like the other mail changes.
//!
//! - `GET /api/cloud-mail/forwarding` — the forwarding in force, and any pending request or change
//! - `PUT /api/cloud-mail/forwarding` `{address, current_password}` — ask (R-SEC-1); the
//!   confirmation link goes to `address`, a notice to the account's own cloud mail (R-SEC-2)
//! - `DELETE /api/cloud-mail/forwarding` — stop at the next minute 0
//! - `POST /api/cloud-mail/forwarding/confirm` `{token}` — the link's landing (no login)

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::{mail_address, time};
use shared::edge::http::LinkBody;
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, respond, utokyo_caller, utokyo_caller_and_service,
};
use shared::store::changes::ChangeKind;
use shared::store::services::{FORWARDING, ServiceState};
use shared::usecase::services;
use shared::usecase::session;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Forwarding {
    address: String,
    current_password: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let confirm = req.uri().path().trim_end_matches('/').ends_with("/confirm");
    match (req.method().clone(), confirm) {
        (Method::POST, true) => {
            let LinkBody { token } = json_body(req)?;
            let (address, effective_at) = services::confirm_forwarding(&app.deps(), ctx, &token).await?;
            Ok(Reply::ok(json!({ "address": address, "effective_at": time::rfc3339(effective_at) })))
        }
        (Method::PUT, false) => {
            let account = utokyo_caller(app, ctx, req).await?;
            let Forwarding { address, current_password } = json_body(req)?;
            account.check_cloud_mail()?;
            let address = mail_address::forwarding_address(&address, &app.mail_domain)?;
            session::reauthenticate(&app.deps(), ctx, &account.key(), &account.password_hash, current_password).await?;
            let record = services::request_forwarding(&app.deps(), ctx, &account, &address).await?;
            Ok(Reply::accepted(json!({ "requested": record.view() })))
        }
        (Method::DELETE, false) => {
            no_body(req)?;
            let account = utokyo_caller(app, ctx, req).await?;
            let effective_at = services::stop_forwarding(&app.deps(), ctx, &account).await?;
            Ok(Reply::accepted(json!({ "effective_at": time::rfc3339(effective_at) })))
        }
        (Method::GET, false) => {
            no_body(req)?;
            // The caller with their record in one read, and their changes at the same time (the
            // token's subject's; shown only once the account checks out).
            let claims = claims(app, ctx, req)?;
            let ((account, record), changes) = tokio::try_join!(
                utokyo_caller_and_service(app, ctx, &claims, FORWARDING),
                app.store.changes_of(&claims.sub)
            )?;
            account.check_cloud_mail()?;
            let requested = record.filter(|r| r.state == ServiceState::Invited).map(|r| r.view());
            let pending = changes
                .iter()
                .find(|c| c.kind == ChangeKind::MailForwarding && c.is_pending())
                // With its state, attempts and a refusal's reason, like the address (R-SYNC-4).
                .map(|c| c.person_view(json!({ "address": c.address.clone().filter(|a| !a.is_empty()) })));
            Ok(Reply::ok(json!({ "address": account.mail_forwarding, "requested": requested, "pending": pending })))
        }
        _ => {
            method_not_allowed(req, if confirm { &[Method::POST] } else { &[Method::GET, Method::PUT, Method::DELETE] })
        }
    }
}
