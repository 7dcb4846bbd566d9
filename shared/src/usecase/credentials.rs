//! R-CRED-1: the person changes their own account password — one transaction holding the new
//! hash (only while the old one is still the account's), `initial_password_changed`, a raised
//! credentials version (every token issued before stops working), the audit record and the
//! notice to the cloud-mail address; then the notice is sent at once.

use serde_json::json;

use super::unit::Tx;
use super::{Deps, outbox};
use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm, WorkshopAccount};
use crate::domain::notices::SecurityNotice;
use crate::domain::time;
use crate::error::ApiError;
use crate::store::accounts;
use crate::store::audit::AuditRecord;
use crate::store::tx::{self, Expr};
use crate::store::{b, n, s};

/// Sets `phc` (an argon2id hash of the new password, already checked against R-PWD and the
/// current password) as the account's password.
pub async fn change_password(deps: &Deps<'_>, ctx: &Ctx, account: &Account, phc: String) -> Result<(), ApiError> {
    let store = deps.store;
    let notice = outbox::security_notice(ctx, account, SecurityNotice::PasswordChanged);
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, &account.id),
        Some("password_hash = :old AND #status = :active"),
        Expr::new()
            .name("#status", "status")
            .set("password_hash = :phc")
            .set("initial_password_changed = :true")
            .set("credentials_version = if_not_exists(credentials_version, :zero) + :one")
            .set("credentials_changed_at = :now")
            .value(":old", s(account.password_hash.clone()))
            .value(":active", s("active"))
            .value(":phc", s(phc))
            .value(":true", b(true))
            .value(":zero", n(0))
            .value(":one", n(1))
            .value(":now", s(time::stamp(ctx.now))),
    )?);
    tx.push(notice.queue(store)?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "account_password.changed").change(
        json!({ "initial_password_changed": account.initial_password_changed }),
        json!({ "initial_password_changed": true, "sessions_ended": true }),
    ))?;
    // Refused: the password changed meanwhile (another request); the client may try again.
    tx.commit_or(ApiError::ServiceUnavailable { retry_after: 1 }).await?;
    outbox::send_now(deps, ctx, &notice).await
}

/// R-WS-1: a workshop account's new password (argon2id), effective at once, audited.
pub async fn set_workshop_password(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &WorkshopAccount,
    phc: String,
) -> Result<(), ApiError> {
    let store = deps.store;
    let expr = Expr::new()
        .name("#status", "status")
        .set("password_hash = :hash")
        .set("password_changed_at = :now")
        .value(":hash", s(phc))
        .value(":now", s(time::stamp(ctx.now)))
        .value(":active", s("active"));
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.accounts,
        accounts::key(Realm::Workshop, &account.id),
        Some("#status = :active"),
        expr,
    )?);
    tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), "workshop_password.changed").change(
        json!({ "password_changed_at": account.password_changed_at.map(time::rfc3339) }),
        json!({ "password_changed_at": time::rfc3339(ctx.now) }),
    ))?;
    tx.commit_or(ApiError::Unauthorized).await
}
