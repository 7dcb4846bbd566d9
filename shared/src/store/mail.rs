//! Cloud-mail changes (R-CMA, R-CMP) as transactions:
//! - an address change holds the 30-day rule as a condition on the account's `mail_changed_at`
//!   (so of two concurrent changes at most one is accepted), reserves the address in the
//!   `addresses` table for this account forever (never handed to another account: R-CMA-4), and
//!   records the pending change and its audit record;
//! - a password change records only the SHA-512 crypt hash as the pending change (the last one
//!   accepted before the sync wins) with its audit record.

use chrono::DateTime;
use chrono::Utc;
use serde_json::json;

use super::accounts;
use super::audit::AuditRecord;
use super::changes::{self, Change};
use super::tx::{self, Expr, TxError};
use super::{Item, b, get_bool, get_s, s};
use crate::account::{Account, Realm};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::mail;
use crate::time;

/// Accepts a change to `address` (already normalised by [`mail::normalise_address`]); returns
/// the pending change.
pub async fn change_address(app: &App, ctx: &Ctx, account: &Account, address: &str) -> Result<Change, ApiError> {
    account.check_cloud_mail()?;
    if address == account.mail_address {
        return Err(ApiError::InvalidAddress { reasons: vec!["same_as_current"] });
    }
    let store = &app.store;
    let threshold = time::stamp(mail::change_threshold(ctx.now));
    let mut items = vec![
        // 0: the account — active, initial password changed, no change within 30 days.
        tx::update(
            &store.tables.accounts,
            accounts::key(Realm::Utokyo, &account.id),
            Some(
                "#status = :active AND initial_password_changed = :true \
                 AND (attribute_not_exists(mail_changed_at) OR mail_changed_at <= :threshold)",
            ),
            Expr::new()
                .name("#status", "status")
                .set("mail_changed_at = :now")
                .value(":active", s("active"))
                .value(":true", b(true))
                .value(":threshold", s(threshold))
                .value(":now", s(time::stamp(ctx.now))),
        )?,
        // 1: the address — free, or already this account's.
        tx::put(
            &store.tables.addresses,
            Item::from([
                ("address".to_owned(), s(address)),
                ("owner".to_owned(), s(account.id.clone())),
                ("reserved_at".to_owned(), s(time::stamp(ctx.now))),
            ]),
            Some("attribute_not_exists(address) OR #owner = :me"),
            Expr::new().name("#owner", "owner").value(":me", s(account.id.clone())),
        )?,
    ];
    let change = Change::mail_address(&account.id, address, ctx.now);
    changes::stage(app, ctx.now, vec![change.clone()], &mut items)?;
    items.push(
        AuditRecord::new(ctx, &account.key(), &account.key(), "mail_address.requested")
            .change(
                json!({ "address": account.mail_address }),
                json!({ "pending_address": address, "effective_at": time::rfc3339(change.effective_at) }),
            )
            .put(store)?,
    );
    match tx::commit(store, items).await {
        Ok(()) => Ok(change),
        Err(TxError::Refused(refusal)) => {
            if refusal.failed(0) {
                let old = refusal.item(0);
                if old.and_then(|i| get_bool(i, "initial_password_changed")) != Some(true) {
                    return Err(ApiError::InitialPasswordNotChanged);
                }
                let last = old.and_then(|i| get_s(i, "mail_changed_at")).and_then(time::parse_stamp);
                if let Some(next) = mail::next_change_allowed_at(last).filter(|next| *next > ctx.now) {
                    return Err(ApiError::ChangeTooSoon { next_change_allowed_at: time::rfc3339(next) });
                }
                return Err(ApiError::Unauthorized);
            }
            if refusal.failed(1) {
                return Err(ApiError::AddressTaken);
            }
            Err(ApiError::ServiceUnavailable { retry_after: 1 })
        }
        Err(TxError::Failed(e)) => Err(e),
    }
}

/// Accepts a new cloud-mail password, given as its crypt hash; returns when it takes effect.
pub async fn change_password(
    app: &App,
    ctx: &Ctx,
    account: &Account,
    crypt: String,
) -> Result<DateTime<Utc>, ApiError> {
    account.check_cloud_mail()?;
    let store = &app.store;
    let mut items = vec![tx::check(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, &account.id),
        "#status = :active AND initial_password_changed = :true",
        Expr::new().name("#status", "status").value(":active", s("active")).value(":true", b(true)),
    )?];
    let change = Change::mail_password(&account.id, crypt, ctx.now);
    let effective_at = change.effective_at;
    changes::stage(app, ctx.now, vec![change], &mut items)?;
    items.push(
        AuditRecord::new(ctx, &account.key(), &account.key(), "mail_password.requested")
            .change(json!({}), json!({ "effective_at": time::rfc3339(effective_at) }))
            .put(store)?,
    );
    match tx::commit(store, items).await {
        Ok(()) => Ok(effective_at),
        Err(TxError::Refused(refusal)) => {
            let old = refusal.item(0);
            if old.and_then(|i| get_bool(i, "initial_password_changed")) != Some(true) {
                Err(ApiError::InitialPasswordNotChanged)
            } else {
                Err(ApiError::Unauthorized)
            }
        }
        Err(TxError::Failed(e)) => Err(e),
    }
}
