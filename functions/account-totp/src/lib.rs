//! The second factor (R-CRED-3), for the person:
//!
//! - `GET /api/account/totp` — whether one is enrolled, since when, recovery codes left
//! - `POST /api/account/totp` `{current_password}` — start enrolment (R-SEC-1):
//!   `{otpauth_uri, qr_svg, secret}`, shown this once
//! - `POST /api/account/totp/confirm` `{code}` — confirm with a first code: `{recovery_codes}`,
//!   ten one-time codes shown this once (stored only as hashes)
//! - `DELETE /api/account/totp` `{password, code}` — remove it (the current password, like a
//!   login, and a code or a recovery code)

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::edge::http::{Reply, json_body, method_not_allowed, no_body, respond, utokyo_caller};
use shared::usecase::second_factor as factor;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrolment {
    current_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Removal {
    password: String,
    code: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let confirm = req.uri().path().trim_end_matches('/').ends_with("/confirm");
    match (req.method().clone(), confirm) {
        (Method::GET, false) => {
            no_body(req)?;
            let account = utokyo_caller(app, ctx, req).await?;
            let f = account.second_factor.as_ref().filter(|f| f.is_enrolled());
            Ok(Reply::ok(json!({
                "enrolled": f.is_some(),
                "enrolled_at": f.and_then(|f| f.enrolled_at.as_deref()).and_then(shared::domain::time::parse_stamp).map(shared::domain::time::rfc3339),
                "recovery_codes_left": f.map(|f| f.recovery.len()),
            })))
        }
        (Method::POST, false) => {
            let account = utokyo_caller(app, ctx, req).await?;
            let Enrolment { current_password } = json_body(req)?;
            let f = factor::enrol(&app.deps(), ctx, &account, current_password).await?;
            Ok(Reply::created(json!({
                "otpauth_uri": f.otpauth_uri(&account.id)?,
                "qr_svg": f.qr_svg(&account.id)?,
                "secret": f.secret,
            })))
        }
        (Method::POST, true) => {
            let account = utokyo_caller(app, ctx, req).await?;
            let Code { code } = json_body(req)?;
            let codes = factor::confirm(&app.deps(), ctx, &account, &code).await?;
            Ok(Reply::ok(json!({ "recovery_codes": codes })))
        }
        (Method::DELETE, false) => {
            let account = utokyo_caller(app, ctx, req).await?;
            let Removal { password, code } = json_body(req)?;
            factor::remove_own(&app.deps(), ctx, &account, password, &code).await?;
            Ok(Reply::ok(json!({ "enrolled": false })))
        }
        _ => method_not_allowed(
            req,
            if confirm { &[Method::POST] } else { &[Method::GET, Method::POST, Method::DELETE] },
        ),
    }
}
