//! Cloud-mail changes (R-CMA, R-CMP) as transactions:
//! - an address change holds the 30-day rule as a condition on the account's `mail_changed_at`
//!   (when the last change the person asked for was *applied*, R-CMA-3), reserves the address in
//!   the `addresses` table for this account, and records the pending change — replacing exactly
//!   the pending one it read, if any — with its audit record. A replaced or withdrawn address
//!   that was never used is released; once the sync applies an address it is marked used and
//!   stays this account's forever (R-CMA-4);
//! - a password change records only the SHA-512 crypt hash as the pending change (the last one
//!   accepted before the sync wins) with its audit record.

use chrono::DateTime;
use chrono::Utc;
use serde_json::json;

use super::Deps;
use super::unit::Tx;
use crate::ctx::Ctx;
use crate::domain::account::{Account, Realm};
use crate::domain::{mail_address, time};
use crate::error::ApiError;
use crate::store::accounts;
use crate::store::audit::AuditRecord;
use crate::store::changes::{self, Change, ChangeKind};
use crate::store::tx::{self, Expr};
use crate::store::{Item, b, get_bool, get_s, s, to_item};

/// Accepts a change to `address` (already normalised by [`mail_address::normalise_address`]); returns
/// the pending change. A change still waiting for the sync is replaced (a typo fixed), and the
/// address it asked for, never used, is free again (R-CMA-3); asking again for the pending
/// address changes nothing (a double click).
pub async fn change_address(deps: &Deps<'_>, ctx: &Ctx, account: &Account, address: &str) -> Result<Change, ApiError> {
    account.check_cloud_mail()?;
    if address == account.mail_address {
        return Err(ApiError::InvalidAddress { reasons: vec!["same_as_current"] });
    }
    let pending = deps.store.change(&account.id, ChangeKind::MailAddress).await?.filter(Change::is_pending);
    if let Some(p) = pending.as_ref().filter(|p| p.address.as_deref() == Some(address)) {
        return Ok(p.clone());
    }
    let change = Change::mail_address(&account.id, address, ctx.now);
    // The replaced address is released only if this account never used it; if the release's
    // condition says otherwise, the change goes through without it.
    let mut release = pending.as_ref().and_then(Change::requested_address);
    for _ in 0..2 {
        match commit_address(deps, ctx, account, &change, pending.as_ref(), release.as_ref()).await {
            Err(Refused::Release) => release = None,
            Err(Refused::With(e)) => return Err(e),
            Ok(()) => return Ok(change),
        }
    }
    Err(ApiError::ServiceUnavailable { retry_after: 1 })
}

/// R-CMA-3: withdraws the change waiting for the sync; its address, never used, is free again.
pub async fn withdraw_address(deps: &Deps<'_>, ctx: &Ctx, account: &Account) -> Result<(), ApiError> {
    account.check_cloud_mail()?;
    // Only a change the person asked for: the provisioning of their initial address is not
    // theirs to withdraw.
    let Some(pending) =
        deps.store.change(&account.id, ChangeKind::MailAddress).await?.filter(|c| c.is_pending() && c.by_person)
    else {
        return Err(ApiError::NothingPending);
    };
    let store = deps.store;
    let mut release = pending.requested_address();
    for _ in 0..2 {
        let mut tx = Tx::new(deps, ctx, &account.key());
        tx.push(tx::delete(
            &store.tables.changes,
            pending.item_key(),
            "change_id = :id AND q = :q",
            Expr::new().value(":id", s(pending.change_id.clone())).value(":q", s(changes::PENDING_Q)),
        )?);
        if let Some(r) = &release {
            tx.push(r.item(store)?);
        }
        tx.audit(
            AuditRecord::new(ctx, &account.key(), &account.key(), "mail_address.withdrawn")
                .change(json!({ "pending_address": pending.address }), json!({ "pending_address": null })),
        )?;
        match tx.try_commit().await? {
            Ok(()) => return Ok(()),
            Err(r) if release.is_some() && r.failed(1) && !r.failed(0) => release = None,
            // Applied (or replaced) meanwhile: nothing is waiting any more.
            Err(_) => return Err(ApiError::NothingPending),
        }
    }
    Err(ApiError::ServiceUnavailable { retry_after: 1 })
}

/// An address reservation made for a pending change, to release with it.
struct Release {
    address: String,
    owner: String,
    reserved_at: String,
}

impl Release {
    /// Deletes the reservation only if it is the one the pending change made (same owner, made
    /// at its acceptance) and the address was never used (R-CMA-4).
    fn item(&self, store: &crate::store::Store) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, ApiError> {
        tx::delete(
            &store.tables.addresses,
            Item::from([("address".to_owned(), s(self.address.clone()))]),
            "#owner = :me AND reserved_at = :at AND attribute_not_exists(used_at)",
            Expr::new()
                .name("#owner", "owner")
                .value(":me", s(self.owner.clone()))
                .value(":at", s(self.reserved_at.clone())),
        )
    }
}

impl Change {
    fn requested_address(&self) -> Option<Release> {
        self.address.clone().map(|address| Release {
            address,
            owner: self.account.clone(),
            reserved_at: time::stamp(self.accepted_at),
        })
    }
}

enum Refused {
    /// The replaced address's release did not hold (it was used before): go without it.
    Release,
    With(ApiError),
}

async fn commit_address(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    change: &Change,
    pending: Option<&Change>,
    release: Option<&Release>,
) -> Result<(), Refused> {
    let store = deps.store;
    let threshold = time::stamp(mail_address::change_threshold(ctx.now));
    let address = change.address.clone().unwrap_or_default();
    let build = || -> Result<Tx<'_>, ApiError> {
        let mut tx = Tx::new(deps, ctx, &account.key());
        for item in [
            // 0: the account — active, initial password changed, no *applied* change within 30 days.
            tx::check(
                &store.tables.accounts,
                accounts::key(Realm::Utokyo, &account.id),
                "#status = :active AND initial_password_changed = :true \
                 AND (attribute_not_exists(mail_changed_at) OR mail_changed_at <= :threshold)",
                Expr::new()
                    .name("#status", "status")
                    .value(":active", s("active"))
                    .value(":true", b(true))
                    .value(":threshold", s(threshold.clone())),
            )?,
            // 1: the address — free, or already this account's (kept with its first reservation).
            tx::update(
                &store.tables.addresses,
                Item::from([("address".to_owned(), s(address.clone()))]),
                Some("attribute_not_exists(address) OR #owner = :me"),
                Expr::new()
                    .name("#owner", "owner")
                    .set("#owner = :me")
                    .set("reserved_at = if_not_exists(reserved_at, :now)")
                    .value(":me", s(account.id.clone()))
                    .value(":now", s(time::stamp(ctx.now))),
            )?,
            // 2: the change — replacing exactly the pending one read, or none.
            match pending {
                Some(p) => tx::put(
                    &store.tables.changes,
                    to_item(change)?,
                    Some("change_id = :old AND q = :q"),
                    Expr::new().value(":old", s(p.change_id.clone())).value(":q", s(changes::PENDING_Q)),
                )?,
                None => tx::put(
                    &store.tables.changes,
                    to_item(change)?,
                    Some("attribute_not_exists(pk) OR attribute_not_exists(q)"),
                    Expr::new(),
                )?,
            },
        ] {
            tx.push(item);
        }
        if let Some(r) = release.filter(|r| r.address != address) {
            tx.push(r.item(store)?);
        }
        let action = if pending.is_some() { "mail_address.replaced" } else { "mail_address.requested" };
        tx.audit(AuditRecord::new(ctx, &account.key(), &account.key(), action).change(
            json!({ "address": account.mail_address, "pending_address": pending.and_then(|p| p.address.clone()) }),
            json!({ "pending_address": address, "effective_at": time::rfc3339(change.effective_at) }),
        ))?;
        Ok(tx)
    };
    let tx = build().map_err(Refused::With)?;
    let releasing = release.is_some_and(|r| r.address != address);
    match tx.try_commit().await.map_err(Refused::With)? {
        Ok(()) => Ok(()),
        Err(refusal) => {
            if refusal.failed(0) {
                let old = refusal.item(0);
                if old.and_then(|i| get_bool(i, "initial_password_changed")) != Some(true) {
                    return Err(Refused::With(ApiError::InitialPasswordNotChanged));
                }
                let last = old.and_then(|i| get_s(i, "mail_changed_at")).and_then(time::parse_stamp);
                if let Some(next) = mail_address::next_change_allowed_at(last).filter(|next| *next > ctx.now) {
                    return Err(Refused::With(ApiError::ChangeTooSoon { next_change_allowed_at: time::rfc3339(next) }));
                }
                return Err(Refused::With(ApiError::Unauthorized));
            }
            if refusal.failed(1) {
                return Err(Refused::With(ApiError::AddressTaken));
            }
            if releasing && refusal.failed(3) && !refusal.failed(2) {
                return Err(Refused::Release);
            }
            // The pending change was applied or replaced meanwhile: the client may ask again.
            Err(Refused::With(ApiError::ServiceUnavailable { retry_after: 1 }))
        }
    }
}

/// Accepts a new cloud-mail password, given as its crypt hash; returns when it takes effect.
pub async fn change_password(
    deps: &Deps<'_>,
    ctx: &Ctx,
    account: &Account,
    crypt: String,
) -> Result<DateTime<Utc>, ApiError> {
    account.check_cloud_mail()?;
    let store = deps.store;
    let mut tx = Tx::new(deps, ctx, &account.key());
    tx.push(tx::check(
        &store.tables.accounts,
        accounts::key(Realm::Utokyo, &account.id),
        "#status = :active AND initial_password_changed = :true",
        Expr::new().name("#status", "status").value(":active", s("active")).value(":true", b(true)),
    )?);
    let change = Change::mail_password(&account.id, crypt, ctx.now);
    let effective_at = change.effective_at;
    tx.provision(vec![change])?;
    tx.audit(
        AuditRecord::new(ctx, &account.key(), &account.key(), "mail_password.requested")
            .change(json!({}), json!({ "effective_at": time::rfc3339(effective_at) })),
    )?;
    tx.commit_explained(|refusal| {
        if refusal.item(0).and_then(|i| get_bool(i, "initial_password_changed")) != Some(true) {
            ApiError::InitialPasswordNotChanged
        } else {
            ApiError::Unauthorized
        }
    })
    .await?;
    Ok(effective_at)
}
