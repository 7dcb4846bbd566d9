//! `GET, PUT, DELETE /api/cloud-mail/address` — the current address, any pending change and when
//! the next change is allowed; a new address, applied at the next minute 0, which replaces one
//! still pending (R-CMA-1..4); withdrawing the pending change (R-CMA-3). The GET also shows a
//! pending password change, so that a refused one is visible (R-SYNC-4).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::{mail_address, time};
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, respond, utokyo_caller, utokyo_caller_of,
};
use shared::store::changes::{Change, ChangeKind};
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAddress {
    address: String,
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
            // The caller and their changes at once (the changes of the token's subject; they are
            // shown only once the account checks out).
            let claims = claims(app, ctx, req)?;
            let (account, changes) =
                tokio::try_join!(utokyo_caller_of(app, ctx, &claims), app.store.changes_of(&claims.sub))?;
            account.check_cloud_mail()?;
            let pending = |kind| changes.iter().find(|c: &&Change| c.kind == kind && c.is_pending());
            let next = mail_address::next_change_allowed_at(account.mail_changed_at).filter(|t| *t > ctx.now);
            Ok(Reply::ok(json!({
                "address": account.mail_address,
                "pending": pending(ChangeKind::MailAddress).map(|c| c.person_view(json!({ "address": c.address }))),
                "next_change_allowed_at": next.map(time::rfc3339),
                "pending_password": pending(ChangeKind::MailPassword).map(|c| c.person_view(json!({}))),
            })))
        }
        Method::PUT => {
            let account = utokyo_caller(app, ctx, req).await?;
            let body: NewAddress = json_body(req)?;
            account.check_cloud_mail()?;
            // The address the person has already (their default is all digits, which the rule
            // refuses): say that it is theirs, not that it breaks a rule.
            if mail_address::is_current(&body.address, &app.mail_domain, &account.mail_address) {
                return Err(ApiError::InvalidAddress { reasons: vec!["same_as_current"] });
            }
            let address = mail_address::normalise_address(&body.address, &app.mail_domain)?;
            let change = shared::usecase::cloud_mail::change_address(&app.deps(), ctx, &account, &address).await?;
            Ok(Reply::accepted(json!({
                "pending": { "address": address, "effective_at": time::rfc3339(change.effective_at) }
            })))
        }
        Method::DELETE => {
            no_body(req)?;
            let account = utokyo_caller(app, ctx, req).await?;
            shared::usecase::cloud_mail::withdraw_address(&app.deps(), ctx, &account).await?;
            Ok(Reply::ok(json!({ "pending": null })))
        }
        _ => method_not_allowed(req, &[Method::GET, Method::PUT, Method::DELETE]),
    }
}
