//! Remote access on and off (R-RA-1..2): one transaction holds the account's flag (with its own
//! condition, so turning on twice counts once), the counter (`in_use < capacity`), the
//! provisioning change and the audit record. Under any concurrency the number of users never
//! exceeds the capacity and always equals the number of accounts whose flag is on.

use serde_json::json;

use super::accounts;
use super::audit::AuditRecord;
use super::changes::{self, Change, ChangeKind};
use super::settings::{DEFAULT_CAPACITY, RemoteAccessCount, settings_key};
use super::tx::{self, Expr, TxError};
use super::{b, get_bool, n, s};
use crate::domain::account::{Account, Realm};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;

/// Turns the caller's remote access on or off; returns the resulting state.
pub async fn set(app: &App, ctx: &Ctx, account: &Account, enabled: bool) -> Result<bool, ApiError> {
    if enabled {
        account.check_remote_access(ctx.today())?;
    }
    let store = &app.store;
    let today = ctx.today().to_string();
    let key = accounts::key(Realm::Utokyo, &account.id);
    let mut items = Vec::new();
    if enabled {
        // 0: the account — right valid today, active, flag off.
        items.push(tx::update(
            &store.tables.accounts,
            key,
            Some(
                "#status = :active AND (attribute_not_exists(remote_access) OR remote_access = :off) \
                 AND right_until >= :today AND (attribute_not_exists(right_stop_on) OR right_stop_on > :today)",
            ),
            Expr::new()
                .name("#status", "status")
                .set("remote_access = :on")
                .value(":active", s("active"))
                .value(":on", b(true))
                .value(":off", b(false))
                .value(":today", s(today)),
        )?);
        // 1: the counter — room left.
        items.push(tx::update(
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
        items.push(tx::update(
            &store.tables.accounts,
            key,
            Some("remote_access = :on"),
            Expr::new().set("remote_access = :off").value(":on", b(true)).value(":off", b(false)),
        )?);
        items.push(tx::update(
            &store.tables.settings,
            settings_key(),
            Some("in_use > :zero"),
            Expr::new().set("in_use = in_use - :one").value(":zero", n(0)).value(":one", n(1)),
        )?);
    }
    let change = Change::switch(&account.id, ChangeKind::RemoteAccess, enabled, ctx.now);
    let staged = changes::stage(app, ctx.now, vec![change], &mut items)?;
    items.push(
        AuditRecord::new(
            ctx,
            &account.key(),
            &account.key(),
            if enabled { "remote_access.on" } else { "remote_access.off" },
        )
        .change(json!({ "remote_access": !enabled }), json!({ "remote_access": enabled }))
        .put(store)?,
    );
    match tx::commit(store, items).await {
        Ok(()) => {
            changes::apply_staged(app, ctx, &account.key(), staged).await;
            Ok(enabled)
        }
        Err(TxError::Refused(refusal)) => {
            if refusal.failed(0) {
                let old = refusal.item(0);
                let flag = old.and_then(|i| get_bool(i, "remote_access")).unwrap_or(false);
                // Already in the requested state: nothing to change, nothing counted twice.
                if flag == enabled {
                    return Ok(enabled);
                }
                let active = old.and_then(|i| super::get_s(i, "status")) == Some("active");
                return Err(if !active { ApiError::Unauthorized } else { ApiError::EccsRightRequired });
            }
            if refusal.failed(1) {
                if enabled {
                    let count = RemoteAccessCount::from_item(refusal.item(1));
                    return Err(ApiError::RemoteAccessCapacityExceeded {
                        capacity: count.capacity,
                        in_use: count.in_use,
                    });
                }
                return Err(ApiError::Internal("remote-access counter is zero while an account is on".into()));
            }
            Err(ApiError::ServiceUnavailable { retry_after: 1 })
        }
        Err(TxError::Failed(e)) => Err(e),
    }
}
