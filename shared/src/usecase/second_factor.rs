//! R-CRED-3 in DynamoDB: enrolment (a secret waiting for its confirming code), confirmation
//! (the first code's step and the recovery codes' hashes) and removal — each one transaction
//! under a condition, with its audit record. The login's second step is [`super::challenge`].

use serde_json::{Value, json};

use super::Deps;
use super::unit::Tx;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm};
use crate::domain::second_factor::{self, SecondFactor};
use crate::domain::time;
use crate::error::ApiError;
use crate::store::accounts;
use crate::store::audit::AuditRecord;
use crate::store::login::Windows;
use crate::store::tx;
use crate::store::{Item, n, s, to_av};

fn account_item_key(account: &Account) -> Item {
    accounts::key(Realm::Utokyo, &account.id)
}

/// Starts (or starts again) an enrolment: a new secret, shown once to the caller. The current
/// password comes with it (R-SEC-1): a stolen session must not set up a factor the owner does
/// not have, which would lock the owner out.
pub async fn enrol(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    current_password: String,
) -> Result<SecondFactor, ApiError> {
    if account.second_factor.as_ref().is_some_and(SecondFactor::is_enrolled) {
        return Err(ApiError::SecondFactorEnrolled);
    }
    crate::usecase::session::reauthenticate(deps, ctx, &account.key(), &account.password_hash, current_password)
        .await?;
    let factor = SecondFactor::new()?;
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.accounts,
        account_item_key(account),
        Some("attribute_exists(pk) AND (attribute_not_exists(#sf) OR attribute_not_exists(#sf.enrolled_at))"),
        accounts::second_factor_expr().set("#sf = :f").value(":f", to_av(&factor)?),
    )?);
    tx.audit(
        AuditRecord::new(ctx, &account.key(), &account.key(), "second_factor.enrolment_started")
            .change(json!({ "enrolled": false }), json!({ "enrolled": false, "pending": true })),
    )?;
    tx.commit_or(ApiError::SecondFactorEnrolled).await?;
    Ok(factor)
}

/// Confirms the enrolment with a first code; answers the recovery codes, shown this once.
pub async fn confirm(deps: &Deps<'_>, ctx: &Ctx, account: &Account, code: &str) -> Result<Vec<String>, ApiError> {
    let Some(factor) = account.second_factor.clone().filter(|f| !f.is_enrolled()) else {
        return Err(ApiError::InvalidCode);
    };
    let windows = Windows::new(&account.key(), &ctx.source_ip);
    deps.store.reserve_attempt(&windows, ctx.now).await?;
    let step = factor.check(&account.id, code, time::unix_seconds(ctx.now)).ok_or(ApiError::InvalidCode)?;
    let (codes, hashes) = second_factor::recovery_codes()?;
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::update(
        &store.tables.accounts,
        account_item_key(account),
        Some("#sf.secret = :secret AND attribute_not_exists(#sf.enrolled_at)"),
        accounts::second_factor_expr()
            .set("#sf.enrolled_at = :now")
            .set("#sf.last_step = :step")
            .set("#sf.recovery = :hashes")
            .value(":secret", s(factor.secret.clone()))
            .value(":now", s(time::stamp(ctx.now)))
            .value(":step", n(i64::try_from(step).unwrap_or(i64::MAX)))
            .value(":hashes", to_av(&hashes)?),
    )?);
    tx.audit(
        AuditRecord::new(ctx, &account.key(), &account.key(), "second_factor.enrolled")
            .change(json!({ "enrolled": false }), json!({ "enrolled": true, "recovery_codes": codes.len() })),
    )?;
    tx.commit_or(ApiError::InvalidCode).await?;
    release_after_commit(deps, &windows).await;
    Ok(codes)
}

/// Removes the second factor: by the person (after password and code) or by the help desk after
/// an in-person check; `verification` says which, for the audit record.
pub async fn remove(
    deps: &Deps<'_>,
    ctx: &Ctx,
    actor: &Account,
    target: &Account,
    verification: Value,
) -> Result<(), ApiError> {
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &actor.key());
    tx.push(tx::update(
        &store.tables.accounts,
        account_item_key(target),
        Some("attribute_exists(#sf)"),
        accounts::second_factor_expr().remove("#sf"),
    )?);
    tx.audit(
        AuditRecord::new(ctx, &actor.key(), &target.key(), "second_factor.removed")
            .change(json!({ "enrolled": true }), json!({ "enrolled": false, "verification": verification })),
    )?;
    tx.commit_or(ApiError::NotFound).await
}

/// The person's removal: the current password (like a login) and a code or a recovery code,
/// both in one place of the failure windows — a wrong code counts like a wrong password.
pub async fn remove_own(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    password: String,
    code: &str,
) -> Result<(), ApiError> {
    let Some(factor) = account.second_factor.clone() else { return Err(ApiError::NotFound) };
    let windows =
        crate::usecase::session::hold_with_password(deps, ctx, &account.key(), &account.password_hash, password)
            .await?;
    let valid =
        factor.check(&account.id, code, time::unix_seconds(ctx.now)).is_some() || factor.recovery_index(code).is_some();
    if !factor.is_enrolled() || !valid {
        return Err(ApiError::InvalidCode);
    }
    remove(deps, ctx, account, account, json!({ "by": "self", "password_and_code": true })).await?;
    release_after_commit(deps, &windows).await;
    Ok(())
}

/// Gives a successful attempt's places back after its change is committed; a failure here must
/// not turn a done change into an error (the places pass with the window).
async fn release_after_commit(deps: &Deps<'_>, windows: &Windows) {
    if let Err(e) = deps.store.release_attempt(windows).await {
        tracing::warn!(error = %e, "failure window not released; it passes by itself");
    }
}
