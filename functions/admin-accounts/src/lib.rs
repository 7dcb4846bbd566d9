//! Operators' account lifecycle (R-LC-1..5, audited): import the registrar's accounts (JSONL or
//! CSV), look an account up, read its audit log, issue or extend its activation key (a reset for
//! an activated account needs an in-person check), record a pending renewal, and lock or unlock
//! an account (R-SEC-4).
//!
//! - `POST /api/admin/accounts/import` `{format: jsonl|csv, data, dry_run?}`
//! - `GET /api/admin/accounts/{account}`
//! - `GET /api/admin/accounts/{account}/audit`
//! - `POST /api/admin/accounts/{account}/activation-key` `{action: issue|extend, in_person_check?, days?}`
//! - `PUT /api/admin/accounts/{account}/renewal` `{pending}`
//! - `PUT /api/admin/accounts/{account}/lock` `{locked, reason}` — R-SEC-4
//! - `DELETE /api/admin/accounts/{account}/totp` `{in_person_check}` — remove a broken second
//!   factor after an in-person check (R-CRED-3, R-LC-4)

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::domain::account::Account;
use shared::domain::enrolment::{self, ImportFormat, InPersonCheck};
use shared::domain::time;
use shared::edge::http::{
    Reply, claims, json_body, method_not_allowed, no_body, operator, operator_and_account, path_param, respond,
};
use shared::usecase::lifecycle as ops;
use shared::{ApiError, App, Ctx};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    format: ImportFormat,
    data: String,
    /// Check only: the UI checks every part of a large file before it imports any.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum KeyAction {
    Issue,
    Extend,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    action: KeyAction,
    #[serde(default)]
    in_person_check: Option<InPersonCheck>,
    #[serde(default)]
    days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Renewal {
    pending: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorRemoval {
    in_person_check: InPersonCheck,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockRequest {
    locked: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// The longest lock reason kept (it is shown to the help desk, never to the person).
const MAX_REASON_CHARS: usize = 500;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let ctx = app.ctx(&req);
    let outcome = route(app, &ctx, &req).await;
    respond(&ctx, outcome)
}

/// The operator and the path's account, in one read. The account is given to an operator only;
/// its 404 (`.ok_or`) comes after the caller's 403 and the body's 400.
async fn operator_and_target(app: &App, ctx: &Ctx, req: &Request) -> Result<(Account, Option<Account>), ApiError> {
    let id = path_param(req, "account").unwrap_or_default();
    operator_and_account(app, ctx, &claims(app, ctx, req)?, &id).await
}

async fn route(app: &App, ctx: &Ctx, req: &Request) -> Result<Reply, ApiError> {
    let path = req.uri().path().trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or_default();
    let under_account = path_param(req, "account").is_some();
    match (req.method().clone(), last, under_account) {
        (Method::POST, "import", false) => {
            // Authenticated first: an unauthenticated caller learns nothing about the file.
            let op = operator(app, ctx, req).await?;
            let body: Import = json_body(req)?;
            let file = enrolment::parse_import(body.format, &body.data)?;
            if body.dry_run {
                return Ok(Reply::ok(
                    json!({ "checked": file.records.len(), "ignored_columns": file.ignored_columns }),
                ));
            }
            let mut answer = ops::import(&app.deps(), ctx, &op, file.records).await?.view();
            if let Some(map) = answer.as_object_mut() {
                map.insert("ignored_columns".into(), json!(file.ignored_columns));
            }
            Ok(Reply::ok(answer))
        }
        (Method::GET, "audit", true) => {
            no_body(req)?;
            let (_, account) = operator_and_target(app, ctx, req).await?;
            let account = account.ok_or(ApiError::NotFound)?;
            let records = app.store.audit_of(&account.key(), 100).await?;
            Ok(Reply::ok(json!({ "items": records.iter().map(|r| json!({
                "at": shared::domain::time::parse_stamp(&r.at).map(time::rfc3339),
                "action": r.action,
                "actor": r.actor,
                "on_behalf_of": r.on_behalf_of,
                "before": r.before,
                "after": r.after,
                "request_id": r.request_id,
                "source_ip": r.source_ip,
            })).collect::<Vec<_>>() })))
        }
        (Method::POST, "activation-key", true) => {
            let (op, account) = operator_and_target(app, ctx, req).await?;
            let body: KeyRequest = json_body(req)?;
            let account = account.ok_or(ApiError::NotFound)?;
            if body.days.is_some_and(|d| !(1..=enrolment::KEY_MAX_EXTEND_DAYS).contains(&d)) {
                return Err(ApiError::BadRequest(format!("days must be 1 to {}", enrolment::KEY_MAX_EXTEND_DAYS)));
            }
            match body.action {
                KeyAction::Issue => {
                    let (key, until) = ops::issue_key(&app.deps(), ctx, &op, &account, body.in_person_check).await?;
                    Ok(Reply::created(json!({
                        "account": account.id, "activation_key": key, "expires_at": time::rfc3339(until),
                    })))
                }
                KeyAction::Extend => {
                    let until = ops::extend_key(
                        &app.deps(),
                        ctx,
                        &op,
                        &account,
                        body.days.unwrap_or(enrolment::KEY_VALID_DAYS),
                    )
                    .await?;
                    Ok(Reply::ok(json!({ "account": account.id, "expires_at": time::rfc3339(until) })))
                }
            }
        }
        (Method::PUT, "renewal", true) => {
            let (op, account) = operator_and_target(app, ctx, req).await?;
            let body: Renewal = json_body(req)?;
            let account = account.ok_or(ApiError::NotFound)?;
            ops::set_renewal_pending(&app.deps(), ctx, &op, &account, body.pending).await?;
            Ok(Reply::ok(json!({ "account": account.id, "renewal_pending": body.pending })))
        }
        (Method::PUT, "lock", true) => {
            let (op, account) = operator_and_target(app, ctx, req).await?;
            let LockRequest { locked, reason } = json_body(req)?;
            let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
            // A reason given is checked even to open the account (where it is not kept): a bad
            // request is a 400 whatever it asks for.
            if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control))
            {
                return Err(ApiError::BadRequest(format!(
                    "the reason must be one line of at most {MAX_REASON_CHARS} characters"
                )));
            }
            let reason = match (locked, reason) {
                (true, None) => return Err(ApiError::BadRequest("a lock needs a reason".into())),
                (true, Some(r)) => Some(r),
                (false, _) => None,
            };
            let account = account.ok_or(ApiError::NotFound)?;
            ops::set_lock(&app.deps(), ctx, &op, &account, reason.as_deref()).await?;
            Ok(Reply::ok(json!({ "account": account.id, "locked": locked, "reason": reason })))
        }
        (Method::DELETE, "totp", true) => {
            let (op, account) = operator_and_target(app, ctx, req).await?;
            let FactorRemoval { in_person_check } = json_body(req)?;
            let account = account.ok_or(ApiError::NotFound)?;
            let verification =
                json!({ "in_person_check": { "document": in_person_check.document, "checked_by": op.id } });
            shared::usecase::second_factor::remove(&app.deps(), ctx, &op, &account, verification).await?;
            Ok(Reply::ok(json!({ "account": account.id, "second_factor": false })))
        }
        (Method::GET, _, true) => {
            no_body(req)?;
            let (_, account) = operator_and_target(app, ctx, req).await?;
            let account = account.ok_or(ApiError::NotFound)?;
            // Its mail and sign-ins at the same time, once the caller is known to be an operator.
            let subject = account.key();
            let (messages, sign_ins) =
                tokio::join!(app.store.outbox_of(&account.id, 20), app.store.sign_ins_of(&subject));
            let (messages, sign_ins) = (messages?, sign_ins?);
            let mut view = ops::operator_view(&account, ctx.today());
            if let Some(map) = view.as_object_mut() {
                // The mail sent to the account (notices, invitations) with its delivery state.
                map.insert("messages".into(), json!(messages.iter().map(|m| m.view()).collect::<Vec<_>>()));
                // R-CRED-2: the last sign-in attempts, lockouts with the source that caused them.
                map.insert("sign_ins".into(), json!(sign_ins.iter().map(|r| r.view()).collect::<Vec<_>>()));
            }
            Ok(Reply::ok(view))
        }
        _ => method_not_allowed(req, &[Method::GET, Method::POST, Method::PUT, Method::DELETE]),
    }
}
