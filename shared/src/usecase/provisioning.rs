//! Provisioning: changes staged with the transaction that causes them, applied through the target
//! (at once when it can join the transaction, otherwise right after the commit), and by the hourly
//! sync when due (R-SYNC, R-TGT).

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Deps;
use crate::ctx::Ctx;
use crate::domain::time;
use crate::error::ApiError;
use crate::store::audit::AuditRecord;
use crate::store::changes::{Change, ChangeKind, ChangeState, PENDING_Q};
use crate::store::tx::{self, Expr};
use crate::store::{Item, n, s, to_item};

/// Adds the changes of one account to a transaction. Changes effective now go through a target
/// that can join the transaction (in one write) and are recorded as applied; otherwise they are
/// recorded pending, and those due now are returned for the caller to apply right after the
/// commit.
pub(super) fn stage(
    deps: &Deps<'_>,
    now: DateTime<Utc>,
    changes: Vec<Change>,
    items: &mut Vec<TransactWriteItem>,
) -> Result<Vec<Change>, ApiError> {
    let (due, later): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|c| c.effective_at <= now);
    let joined = if due.is_empty() { None } else { deps.target.join(&due) };
    let mut after_commit = Vec::new();
    match joined {
        Some(write) => {
            items.push(write?);
            for mut change in due {
                change.state = ChangeState::Applied;
                change.applied_at = Some(now);
                change.target = Some(deps.target.name().to_owned());
                change.q = None;
                change.due = None;
                change.password_crypt = None;
                items.push(tx::put(&deps.store.tables.changes, to_item(&change)?, None, Expr::new())?);
            }
        }
        None => {
            for change in due {
                items.push(tx::put(&deps.store.tables.changes, to_item(&change)?, None, Expr::new())?);
                after_commit.push(change);
            }
        }
    }
    for change in later {
        items.push(tx::put(&deps.store.tables.changes, to_item(&change)?, None, Expr::new())?);
    }
    Ok(after_commit)
}

/// What happened to a change handed to [`apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    /// Refused by the target; kept pending with its error, due again at the next minute 0.
    Failed(String),
    /// A newer change replaced it, or another run handled it first: nothing recorded.
    Superseded,
}

/// Applies one pending change through the target and records the receipt — together with its
/// effect on the account and its audit record — in one transaction that holds only if the change
/// is still this one and still pending (so two runs never record it twice, R-SYNC-3).
///
/// A target that can join the transaction (the directory) is written in that same transaction:
/// a withdrawal or a replacement at the same moment either comes first, and nothing reaches the
/// target, or finds nothing pending. Applied first and recorded after, a change withdrawn in
/// between reached the mail system while its address was released as never used (R-CMA-3/4).
/// A target that cannot join (an LDAP server, a mail provider's API) is still applied first and
/// recorded after; such a target needs its own claim on the change before it writes.
pub async fn apply(deps: &Deps<'_>, ctx: &Ctx, actor: &str, change: &Change) -> Result<Outcome, ApiError> {
    let store = deps.store;
    // R-SEC-3: a forwarding confirmed before a password change, a reset or a lock was maybe an
    // attacker's; it is cancelled, never applied (the person can ask again).
    if change.kind == ChangeKind::MailForwarding && change.address.as_deref().is_some_and(|a| !a.is_empty()) {
        let account = store.account(&change.account).await?;
        let outlived = account
            .is_none_or(|a| a.lock.is_some() || a.credentials_changed_at.is_some_and(|at| at >= change.accepted_at));
        if outlived {
            return cancel(deps, ctx, actor, change).await;
        }
    }
    let still_pending = "change_id = :id AND q = :q";
    let base = Expr::new().value(":id", s(change.change_id.clone())).value(":q", s(PENDING_Q));
    let mut items = Vec::new();
    let applied = match deps.target.join(std::slice::from_ref(change)) {
        Some(Ok(write)) => {
            items.push(write);
            Ok(())
        }
        Some(Err(e)) => Err(e.to_string()),
        None => deps.target.apply(change).await,
    };
    let outcome = match applied {
        Ok(()) => {
            let expr = base
                .set("#state = :applied")
                .set("applied_at = :now")
                .set("#target = :target")
                .remove("q")
                .remove("due")
                .remove("password_crypt")
                .name("#state", "state")
                .name("#target", "target")
                .value(":applied", s("applied"))
                .value(":now", s(time::stamp(ctx.now)))
                .value(":target", s(deps.target.name()));
            items.push(tx::update(&store.tables.changes, change.item_key(), Some(still_pending), expr)?);
            // What the account shows follows what the mail system now has.
            let account_key = Item::from([("pk".to_owned(), s(change.pk.clone()))]);
            match (change.kind, &change.address) {
                (ChangeKind::MailAddress, Some(address)) if change.by_person => {
                    // R-CMA-3: the 30 days run from here; R-CMA-4: the address is now used, so
                    // it stays this account's for ever (a pending one could still be released).
                    items.push(tx::update(
                        &store.tables.accounts,
                        account_key,
                        Some("attribute_exists(pk)"),
                        Expr::new()
                            .set("mail_address = :address")
                            .set("mail_changed_at = :now")
                            .value(":address", s(address.clone()))
                            .value(":now", s(time::stamp(ctx.now))),
                    )?);
                    items.push(tx::update(
                        &store.tables.addresses,
                        Item::from([("address".to_owned(), s(address.clone()))]),
                        None,
                        Expr::new()
                            .name("#owner", "owner")
                            .set("used_at = if_not_exists(used_at, :now)")
                            .set("#owner = if_not_exists(#owner, :me)")
                            .value(":now", s(time::stamp(ctx.now)))
                            .value(":me", s(change.account.clone())),
                    )?);
                }
                (ChangeKind::MailAddress, Some(address)) => items.push(tx::update(
                    &store.tables.accounts,
                    account_key,
                    Some("attribute_exists(pk)"),
                    Expr::new().set("mail_address = :address").value(":address", s(address.clone())),
                )?),
                // R-SEC-3 once more, in the transaction: a lock or a password change since the
                // read above refuses it (the next run cancels it).
                (ChangeKind::MailForwarding, Some(address)) if !address.is_empty() => items.push(tx::update(
                    &store.tables.accounts,
                    account_key,
                    Some(
                        "attribute_exists(pk) AND attribute_not_exists(#lock) \
                         AND (attribute_not_exists(credentials_changed_at) OR credentials_changed_at < :accepted)",
                    ),
                    Expr::new()
                        .name("#lock", "lock")
                        .set("mail_forwarding = :address")
                        .value(":address", s(address.clone()))
                        .value(":accepted", s(time::stamp(change.accepted_at))),
                )?),
                (ChangeKind::MailForwarding, _) => items.push(tx::update(
                    &store.tables.accounts,
                    account_key,
                    Some("attribute_exists(pk)"),
                    Expr::new().remove("mail_forwarding"),
                )?),
                _ => {}
            }
            let receipt = json!({ "change_id": change.change_id, "applied_at": time::rfc3339(ctx.now), "target": deps.target.name() });
            let after = with(change.audit_view(), [("state", json!("applied")), ("receipt", receipt)]);
            items.push(
                AuditRecord::new(ctx, actor, &change.pk, &format!("{}.applied", change.kind.as_str()))
                    .change(change.audit_view(), after)
                    .put(store)?,
            );
            Outcome::Applied
        }
        Err(error) => {
            let retry_at = time::next_minute_zero(ctx.now);
            let error = truncate(&error, 500);
            let expr = base
                .add_clause("attempts :one")
                .set("last_error = :error")
                .set("last_attempt_at = :now")
                .set("due = :retry")
                .value(":one", n(1))
                .value(":error", s(error.clone()))
                .value(":now", s(time::stamp(ctx.now)))
                .value(":retry", s(time::stamp(retry_at)));
            items.push(tx::update(&store.tables.changes, change.item_key(), Some(still_pending), expr)?);
            let after = with(
                change.audit_view(),
                [
                    ("attempts", json!(change.attempts + 1)),
                    ("last_error", json!(error)),
                    ("retry_at", json!(time::rfc3339(retry_at))),
                ],
            );
            items.push(
                AuditRecord::new(ctx, actor, &change.pk, &format!("{}.failed", change.kind.as_str()))
                    .change(change.audit_view(), after)
                    .put(store)?,
            );
            Outcome::Failed(error)
        }
    };
    // Not a unit of work ([`super::unit::Tx`]): this is what one applies after its commit.
    Ok(match tx::try_commit(store, items).await? {
        Ok(()) => outcome,
        Err(_) => Outcome::Superseded,
    })
}

/// Closes a pending change without applying it, with its audit record.
async fn cancel(deps: &Deps<'_>, ctx: &Ctx, actor: &str, change: &Change) -> Result<Outcome, ApiError> {
    let store = deps.store;
    let items = vec![
        tx::update(
            &store.tables.changes,
            change.item_key(),
            Some("change_id = :id AND q = :q"),
            Expr::new()
                .name("#state", "state")
                .set("#state = :cancelled")
                .remove("q")
                .remove("due")
                .value(":cancelled", s("cancelled"))
                .value(":id", s(change.change_id.clone()))
                .value(":q", s(PENDING_Q)),
        )?,
        AuditRecord::new(ctx, actor, &change.pk, &format!("{}.cancelled", change.kind.as_str()))
            .change(change.audit_view(), json!({ "state": "cancelled", "reason": "credentials_changed_or_locked" }))
            .put(store)?,
    ];
    tx::try_commit(store, items).await?.ok();
    Ok(Outcome::Superseded)
}

/// Applies changes staged by an immediate action right after its commit. A failure is logged and
/// left to the hourly sync: the change is recorded and pending, nothing is lost.
pub(super) async fn apply_staged(deps: &Deps<'_>, ctx: &Ctx, actor: &str, staged: Vec<Change>) {
    for change in staged {
        match apply(deps, ctx, actor, &change).await {
            Ok(Outcome::Failed(error)) => {
                tracing::warn!(request_id = %ctx.request_id, kind = change.kind.as_str(), error = %error, "provisioning refused; the hourly sync retries it");
            }
            Err(e) => {
                tracing::warn!(request_id = %ctx.request_id, kind = change.kind.as_str(), error = %e, "provisioning failed; the hourly sync retries it");
            }
            Ok(_) => {}
        }
    }
}

/// `summary` with some fields replaced.
fn with<const N: usize>(mut summary: serde_json::Value, fields: [(&str, serde_json::Value); N]) -> serde_json::Value {
    if let Some(map) = summary.as_object_mut() {
        for (k, v) in fields {
            map.insert(k.to_owned(), v);
        }
    }
    summary
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
