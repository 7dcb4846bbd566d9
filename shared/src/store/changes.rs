//! The `changes` table: what each downstream system must be told, one item per account and kind
//! (`mail_address`, `mail_password`, `remote_access`, `eccs`), so a newer change replaces an older
//! one that has not been applied yet ("the last one accepted before the sync wins", R-CMP-1).
//!
//! A pending change sits in the sparse index `pending-due` (`q` = "pending", `due` = when it
//! applies) — the hourly sync reads only what is due (R-SYNC-2). Once applied, the item keeps its
//! receipt (applied at, target) and leaves the index; a password's crypt hash is removed then
//! (R-CMP-3). A refused change keeps its error and attempt count and is due again at the next
//! minute 0 (R-SYNC-4).

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::AuditRecord;
use super::tx::{self, Expr, TxError};
use super::{Item, Store, from_item, n, s, sdk_error, to_item};
use crate::domain::account::{Realm, account_key};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::domain::time::{self, stamp_serde};

pub const PENDING_Q: &str = "pending";
pub const PENDING_INDEX: &str = "pending-due";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    MailAddress,
    MailPassword,
    /// Where cloud mail is forwarded (R-LC-7); an empty address stops forwarding.
    MailForwarding,
    RemoteAccess,
    Eccs,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::MailAddress => "mail_address",
            ChangeKind::MailForwarding => "mail_forwarding",
            ChangeKind::MailPassword => "mail_password",
            ChangeKind::RemoteAccess => "remote_access",
            ChangeKind::Eccs => "eccs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    Pending,
    Applied,
    /// Not applied, and never will be: a forwarding confirmed before the account's credentials
    /// changed or it was locked (R-SEC-3).
    Cancelled,
}

/// One change and, once handled, its receipt.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The account key (`utokyo#…`).
    pub pk: String,
    pub sk: ChangeKind,
    pub account: String,
    /// Time-ordered (UUID v7): a target can tell a newer change from an older one.
    pub change_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// SHA-512 crypt hash; never the plaintext, and removed once applied (R-CMP-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_crypt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(with = "stamp_serde")]
    pub accepted_at: DateTime<Utc>,
    /// Asked for by the person (an address they chose), not provisioning of their initial one:
    /// only such a change, once applied, starts the 30 days of R-CMA-3.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_person: bool,
    #[serde(with = "stamp_serde")]
    pub effective_at: DateTime<Utc>,
    pub state: ChangeState,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub applied_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Index partition, present only while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Index sort key: when the change is next due, present only while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("pk", &self.pk)
            .field("kind", &self.sk)
            .field("change_id", &self.change_id)
            .field("address", &self.address)
            .field("password_crypt", &self.password_crypt.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("state", &self.state)
            .field("due", &self.due)
            .finish()
    }
}

impl Change {
    /// A pending change of `account`, due at `effective_at`.
    pub fn pending(account: &str, kind: ChangeKind, accepted_at: DateTime<Utc>, effective_at: DateTime<Utc>) -> Self {
        Self {
            pk: account_key(Realm::Utokyo, account),
            sk: kind,
            account: account.to_owned(),
            change_id: uuid::Uuid::now_v7().to_string(),
            address: None,
            password_crypt: None,
            enabled: None,
            accepted_at,
            by_person: false,
            effective_at,
            state: ChangeState::Pending,
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
            applied_at: None,
            target: None,
            q: Some(PENDING_Q.into()),
            due: Some(time::stamp(effective_at)),
        }
    }

    pub fn mail_address(account: &str, address: &str, now: DateTime<Utc>) -> Self {
        let mut c = Self::pending(account, ChangeKind::MailAddress, now, time::next_minute_zero(now));
        c.address = Some(address.to_owned());
        c.by_person = true;
        c
    }

    /// R-LC-7: forwarding to `address` (empty: none), applied at the next minute 0.
    pub fn mail_forwarding(account: &str, address: &str, now: DateTime<Utc>) -> Self {
        let mut c = Self::pending(account, ChangeKind::MailForwarding, now, time::next_minute_zero(now));
        c.address = Some(address.to_owned());
        c
    }

    pub fn mail_password(account: &str, crypt: String, now: DateTime<Utc>) -> Self {
        let mut c = Self::pending(account, ChangeKind::MailPassword, now, time::next_minute_zero(now));
        c.password_crypt = Some(crypt);
        c
    }

    /// Remote access or ECCS servers on/off, effective at once.
    pub fn switch(account: &str, kind: ChangeKind, enabled: bool, now: DateTime<Utc>) -> Self {
        let mut c = Self::pending(account, kind, now, now);
        c.enabled = Some(enabled);
        c
    }

    /// What the user and the audit may see: never the hash.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "kind": self.sk,
            "address": self.address,
            "enabled": self.enabled,
            "state": self.state,
            "effective_at": time::rfc3339(self.effective_at),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "applied_at": self.applied_at.map(time::rfc3339),
        })
    }

    pub fn key(&self) -> Item {
        Item::from([("pk".to_owned(), s(self.pk.clone())), ("sk".to_owned(), s(self.sk.as_str()))])
    }

    /// Waiting for the sync (refused ones included: they are retried).
    pub fn is_pending(&self) -> bool {
        self.state == ChangeState::Pending
    }

    /// A pending change as the user sees it: when it applies and, if the mail system refused it,
    /// that it did and how many attempts were made (R-SYNC-4) — as a reason code and a bilingual
    /// sentence, never the mail system's own text, which operators see in the run history (R-SEC-5).
    pub fn person_view(&self, mut fields: serde_json::Value) -> serde_json::Value {
        let state = if self.last_error.is_some() { "retrying" } else { "pending" };
        let error = self.last_error.as_ref().map(|_| {
            json!({
                "code": "mail_system_refused",
                "message": "メールシステムが変更を受け付けませんでした。次の毎時0分に再試行します / \
                            The mail system did not accept the change; it is retried at the next minute 0",
            })
        });
        if let Some(map) = fields.as_object_mut() {
            let next = self.due.as_deref().and_then(time::parse_stamp).unwrap_or(self.effective_at);
            map.insert("effective_at".into(), json!(time::rfc3339(next)));
            map.insert("state".into(), json!(state));
            map.insert("attempts".into(), json!(self.attempts));
            map.insert("error".into(), json!(error));
        }
        fields
    }
}

/// Adds the changes of one account to a transaction. Changes effective now go through a target
/// that can join the transaction (in one write) and are recorded as applied; otherwise they are
/// recorded pending, and those due now are returned for the caller to apply right after the
/// commit.
pub fn stage(
    app: &App,
    now: DateTime<Utc>,
    changes: Vec<Change>,
    items: &mut Vec<TransactWriteItem>,
) -> Result<Vec<Change>, ApiError> {
    let (due, later): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|c| c.effective_at <= now);
    let joined = if due.is_empty() { None } else { app.target.join(&due) };
    let mut after_commit = Vec::new();
    match joined {
        Some(write) => {
            items.push(write?);
            for mut change in due {
                change.state = ChangeState::Applied;
                change.applied_at = Some(now);
                change.target = Some(app.target.name().to_owned());
                change.q = None;
                change.due = None;
                change.password_crypt = None;
                items.push(tx::put(&app.store.tables.changes, to_item(&change)?, None, Expr::new())?);
            }
        }
        None => {
            for change in due {
                items.push(tx::put(&app.store.tables.changes, to_item(&change)?, None, Expr::new())?);
                after_commit.push(change);
            }
        }
    }
    for change in later {
        items.push(tx::put(&app.store.tables.changes, to_item(&change)?, None, Expr::new())?);
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
pub async fn apply(app: &App, ctx: &Ctx, actor: &str, change: &Change) -> Result<Outcome, ApiError> {
    let store = &app.store;
    // R-SEC-3: a forwarding confirmed before a password change, a reset or a lock was maybe an
    // attacker's; it is cancelled, never applied (the person can ask again).
    if change.sk == ChangeKind::MailForwarding && change.address.as_deref().is_some_and(|a| !a.is_empty()) {
        let account = store.account(&change.account).await?;
        let outlived = account
            .is_none_or(|a| a.lock.is_some() || a.credentials_changed_at.is_some_and(|at| at >= change.accepted_at));
        if outlived {
            return cancel(app, ctx, actor, change).await;
        }
    }
    let still_pending = "change_id = :id AND q = :q";
    let base = Expr::new().value(":id", s(change.change_id.clone())).value(":q", s(PENDING_Q));
    let mut items = Vec::new();
    let outcome = match app.target.apply(change).await {
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
                .value(":target", s(app.target.name()));
            items.push(tx::update(&store.tables.changes, change.key(), Some(still_pending), expr)?);
            // What the account shows follows what the mail system now has.
            let account_key = Item::from([("pk".to_owned(), s(change.pk.clone()))]);
            match (change.sk, &change.address) {
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
                (ChangeKind::MailForwarding, Some(address)) if !address.is_empty() => items.push(tx::update(
                    &store.tables.accounts,
                    account_key,
                    Some("attribute_exists(pk)"),
                    Expr::new().set("mail_forwarding = :address").value(":address", s(address.clone())),
                )?),
                (ChangeKind::MailForwarding, _) => items.push(tx::update(
                    &store.tables.accounts,
                    account_key,
                    Some("attribute_exists(pk)"),
                    Expr::new().remove("mail_forwarding"),
                )?),
                _ => {}
            }
            let receipt = json!({ "change_id": change.change_id, "applied_at": time::rfc3339(ctx.now), "target": app.target.name() });
            let after = with(change.summary(), [("state", json!("applied")), ("receipt", receipt)]);
            items.push(
                AuditRecord::new(ctx, actor, &change.pk, &format!("{}.applied", change.sk.as_str()))
                    .change(change.summary(), after)
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
            items.push(tx::update(&store.tables.changes, change.key(), Some(still_pending), expr)?);
            let after = with(
                change.summary(),
                [
                    ("attempts", json!(change.attempts + 1)),
                    ("last_error", json!(error)),
                    ("retry_at", json!(time::rfc3339(retry_at))),
                ],
            );
            items.push(
                AuditRecord::new(ctx, actor, &change.pk, &format!("{}.failed", change.sk.as_str()))
                    .change(change.summary(), after)
                    .put(store)?,
            );
            Outcome::Failed(error)
        }
    };
    match tx::commit(store, items).await {
        Ok(()) => Ok(outcome),
        Err(TxError::Refused(_)) => Ok(Outcome::Superseded),
        Err(TxError::Failed(e)) => Err(e),
    }
}

/// Closes a pending change without applying it, with its audit record.
async fn cancel(app: &App, ctx: &Ctx, actor: &str, change: &Change) -> Result<Outcome, ApiError> {
    let store = &app.store;
    let items = vec![
        tx::update(
            &store.tables.changes,
            change.key(),
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
        AuditRecord::new(ctx, actor, &change.pk, &format!("{}.cancelled", change.sk.as_str()))
            .change(change.summary(), json!({ "state": "cancelled", "reason": "credentials_changed_or_locked" }))
            .put(store)?,
    ];
    match tx::commit(store, items).await {
        Ok(()) | Err(TxError::Refused(_)) => Ok(Outcome::Superseded),
        Err(TxError::Failed(e)) => Err(e),
    }
}

/// Applies changes staged by an immediate action right after its commit. A failure is logged and
/// left to the hourly sync: the change is recorded and pending, nothing is lost.
pub async fn apply_staged(app: &App, ctx: &Ctx, actor: &str, staged: Vec<Change>) {
    for change in staged {
        match apply(app, ctx, actor, &change).await {
            Ok(Outcome::Failed(error)) => {
                tracing::warn!(request_id = %ctx.request_id, kind = change.sk.as_str(), error = %error, "provisioning refused; the hourly sync retries it");
            }
            Err(e) => {
                tracing::warn!(request_id = %ctx.request_id, kind = change.sk.as_str(), error = %e, "provisioning failed; the hourly sync retries it");
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

impl Store {
    /// One account's change of one kind, if there is one.
    pub async fn change(&self, account: &str, kind: ChangeKind) -> Result<Option<Change>, ApiError> {
        let key = Item::from([
            ("pk".to_owned(), s(account_key(Realm::Utokyo, account))),
            ("sk".to_owned(), s(kind.as_str())),
        ]);
        let out = self
            .db
            .get_item()
            .table_name(&self.tables.changes)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }

    /// Every change of one account, one query.
    pub async fn changes_of(&self, account: &str) -> Result<Vec<Change>, ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.tables.changes)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(account_key(Realm::Utokyo, account)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    /// One page of changes due by `now`, oldest first, from the sparse index; with the number of
    /// items read (R-SYNC-2).
    pub async fn due_changes(
        &self,
        now: DateTime<Utc>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Change>, Option<Item>, usize), ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.tables.changes)
            .index_name(PENDING_INDEX)
            .key_condition_expression("q = :q AND due <= :now")
            .expression_attribute_values(":q", s(PENDING_Q))
            .expression_attribute_values(":now", s(time::stamp(now)))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let read = usize::try_from(out.count).unwrap_or(0);
        let changes = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<Change>, _>>()?;
        Ok((changes, out.last_evaluated_key, read))
    }
}
