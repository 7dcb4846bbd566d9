//! `PUT /api/cloud-mail/password` — a new cloud-mail password, checked against the policy
//! (every broken rule listed) and the account's own password, kept only as its SHA-512 crypt
//! hash until the next minute 0 (R-CMP-1..3, R-PWD).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::http::{Reply, json_body, method_not_allowed, respond, utokyo_caller};
use shared::password::{self, PersonalData};
use shared::{ApiError, App, Ctx, store, time};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = Ctx::for_request(app, &req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    if req.method() != Method::PUT {
        return method_not_allowed(req, &[Method::PUT]);
    }
    let account = utokyo_caller(app, ctx, req).await?;
    let NewPassword { password } = json_body(req)?;
    account.check_cloud_mail()?;
    let checked = account.clone();
    let (violations, crypt) = tokio::task::spawn_blocking(move || {
        let person = PersonalData {
            account_id: &checked.id,
            names: vec![checked.name.en.as_str(), checked.name.ja.as_str()],
            birth_date: checked.birth_date,
            phone: checked.phone.as_deref(),
        };
        let mut violations = password::violations(&password, &person);
        if password::verify(&password, &checked.password_hash) {
            violations.push("same_as_account_password");
        }
        let crypt = violations.is_empty().then(|| password::mail_crypt(&password));
        (violations, crypt)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("policy task: {e}")))?;
    if !violations.is_empty() {
        return Err(ApiError::PasswordPolicy { violations });
    }
    let crypt = crypt.ok_or_else(|| ApiError::Internal("no hash".into()))?.map_err(ApiError::Internal)?;
    let effective_at = store::mail::change_password(app, ctx, &account, crypt).await?;
    Ok(Reply::accepted(json!({ "effective_at": time::rfc3339(effective_at) })))
}
