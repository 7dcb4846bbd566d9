//! Remote access on and off (R-RA-1..2), and its capacity. One transaction holds the account's
//! flag (with its own condition, so turning on twice counts once), the counter
//! (`in_use < capacity`), the provisioning change and the audit record. Under any concurrency the
//! number of users never exceeds the capacity and always equals the number of accounts whose
//! flag is on.
//!
//! The caller's state is a condition of the same transaction — usable today, the token's
//! credentials version, and to turn on, a valid right — so the success path is one call; only a
//! refusal reads the account (as it was, from the refusal itself) to say why.

use serde_json::json;

use super::Deps;
use super::unit::Tx;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm, account_key};
use crate::edge::auth::Claims;
use crate::error::ApiError;
use crate::store::changes::{Change, ChangeKind};
use crate::store::settings::{DEFAULT_CAPACITY, RemoteAccessCount, one_user_fewer, settings_key};
use crate::store::tx::{self, Expr, Refusal};
use crate::store::{accounts, b, from_item, n, s};

/// Turns the token's account's remote access on or off; returns the resulting state. The token
/// is verified; the account is not read first: the transaction's conditions are the checks.
pub async fn set(deps: &Deps<'_>, ctx: &Ctx, claims: &Claims, enabled: bool) -> Result<bool, ApiError> {
    if claims.realm != Realm::Utokyo {
        return Err(ApiError::RealmNotAllowed);
    }
    let store = deps.store;
    let today = ctx.today().to_string();
    let actor = account_key(Realm::Utokyo, &claims.sub);
    let key = accounts::key(Realm::Utokyo, &claims.sub);
    // The token still stands: the account usable today, its credentials as when it was issued
    // (R-CRED-1, R-SEC-4) — what the caller read checks elsewhere.
    let mut condition = "#status = :active AND attribute_not_exists(#lock) AND valid_from <= :today \
                         AND valid_until >= :today"
        .to_owned();
    let mut expr = Expr::new()
        .name("#status", "status")
        .name("#lock", "lock")
        .value(":active", s("active"))
        .value(":today", s(today))
        .value(":on", b(true))
        .value(":off", b(false));
    if claims.cv == 0 {
        condition.push_str(" AND attribute_not_exists(credentials_version)");
    } else {
        condition.push_str(" AND credentials_version = :cv");
        expr = expr.value(":cv", n(i64::try_from(claims.cv).unwrap_or(i64::MAX)));
    }
    let mut tx = Tx::new(deps, ctx, &actor);
    if enabled {
        // 0: the account — and the right valid today, the flag off.
        condition.push_str(
            " AND (attribute_not_exists(remote_access) OR remote_access = :off) AND right_until >= :today \
             AND (attribute_not_exists(right_stop_on) OR right_stop_on > :today)",
        );
        tx.push(tx::update(&store.tables.accounts, key, Some(&condition), expr.set("remote_access = :on"))?);
        // 1: the counter — room left.
        tx.push(tx::update(
            &store.tables.settings,
            settings_key(),
            Some("attribute_not_exists(pk) OR in_use < #capacity"),
            Expr::new()
                .name("#capacity", "capacity")
                .set("in_use = if_not_exists(in_use, :zero) + :one")
                .set("#capacity = if_not_exists(#capacity, :default)")
                .value(":zero", n(0))
                .value(":one", n(1))
                .value(":default", n(DEFAULT_CAPACITY)),
        )?);
    } else {
        condition.push_str(" AND remote_access = :on");
        tx.push(tx::update(&store.tables.accounts, key, Some(&condition), expr.set("remote_access = :off"))?);
        tx.push(one_user_fewer(store)?);
    }
    tx.provision(vec![Change::switch(&claims.sub, ChangeKind::RemoteAccess, enabled, ctx.now)])?;
    tx.audit(
        crate::store::audit::AuditRecord::new(
            ctx,
            &actor,
            &actor,
            if enabled { "remote_access.on" } else { "remote_access.off" },
        )
        .change(json!({ "remote_access": !enabled }), json!({ "remote_access": enabled })),
    )?;
    match tx.try_commit().await? {
        Ok(()) => Ok(enabled),
        Err(refusal) => explain(&refusal, claims, ctx, enabled),
    }
}

/// Why the switch was refused, from the items as they were.
fn explain(refusal: &Refusal, claims: &Claims, ctx: &Ctx, enabled: bool) -> Result<bool, ApiError> {
    if refusal.failed(0) {
        let account: Option<Account> = refusal.item(0).cloned().map(from_item).transpose()?;
        let Some(account) = account else { return Err(ApiError::Unauthorized) };
        // The token no longer stands: 401, as every other route answers it.
        if !account.is_usable(ctx.today()) || account.credentials_version != claims.cv {
            return Err(ApiError::Unauthorized);
        }
        if enabled {
            account.check_remote_access(ctx.today())?;
        }
        // Already in the requested state: nothing to change, nothing counted twice.
        if account.remote_access == enabled {
            return Ok(enabled);
        }
        return Err(ApiError::EccsRightRequired);
    }
    if refusal.failed(1) {
        if enabled {
            let count = RemoteAccessCount::from_item(refusal.item(1));
            return Err(ApiError::RemoteAccessCapacityExceeded { capacity: count.capacity, in_use: count.in_use });
        }
        return Err(ApiError::Internal("remote-access counter is zero while an account is on".into()));
    }
    Err(ApiError::ServiceUnavailable { retry_after: 1 })
}

/// Sets the capacity, audited in the same transaction. A capacity below the number of users
/// turns nobody off; it only stops new users until the number falls below it. `before` is the
/// counter as read with the operator's account (the audit record's "before", and the answer's
/// number in use).
pub async fn set_capacity(
    deps: &Deps<'_>,
    ctx: &Ctx,
    operator: &Account,
    before: RemoteAccessCount,
    capacity: i64,
) -> Result<RemoteAccessCount, ApiError> {
    let store = deps.store;
    let expr = Expr::new()
        .name("#capacity", "capacity")
        .set("#capacity = :capacity")
        .set("in_use = if_not_exists(in_use, :zero)")
        .value(":capacity", n(capacity))
        .value(":zero", n(0))
        .value(":before", n(before.capacity));
    // The audit record's "before" is the capacity this replaces: a change that landed since it
    // was read (another operator's, at the same moment) makes this one a 503 to retry.
    let unchanged = if before.capacity == DEFAULT_CAPACITY {
        "attribute_not_exists(#capacity) OR #capacity = :before"
    } else {
        "#capacity = :before"
    };
    let mut tx = Tx::new(deps, ctx, &operator.key());
    tx.push(tx::update(&store.tables.settings, settings_key(), Some(unchanged), expr)?);
    tx.audit(
        crate::store::audit::AuditRecord::new(
            ctx,
            &operator.key(),
            &format!("settings#{}", crate::store::settings::REMOTE_ACCESS_KEY),
            "settings.capacity_set",
        )
        .change(json!({ "remote_access_capacity": before.capacity }), json!({ "remote_access_capacity": capacity })),
    )?;
    tx.commit_or(ApiError::ServiceUnavailable { retry_after: 1 }).await?;
    Ok(RemoteAccessCount { capacity, in_use: before.in_use })
}
