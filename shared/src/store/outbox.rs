//! The `outbox` table: every mail the service sends — notices (R-LC-5), invitations (R-LC-6),
//! forwarding confirmations (R-LC-7) — is first a record here, queued in the same transaction as
//! the change that causes it, then sent by SMTP. Each keeps its delivery state: queued, sent (with
//! when), or failed with the error and the attempts, retried later (the sparse index
//! `outbox-due` holds what is to be sent, by when). A sent message's body is dropped: it may carry
//! a one-time link.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::AuditRecord;
use super::tx::{self, Expr, TxError};
use super::{Item, Store, from_item, n, s, sdk_error, to_item};
use crate::domain::account::{Account, Holder};
use crate::app::App;
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::domain::notices::{self, NoticeKind};
use crate::domain::time::{self, stamp_serde};

pub const OUTBOX_Q: &str = "queued";
pub const OUTBOX_INDEX: &str = "outbox-due";
pub const VALID_UNTIL_INDEX: &str = "by-valid-until";
pub const RIGHT_UNTIL_INDEX: &str = "by-right-until";
/// A message is tried this many times, then left failed for an operator.
pub const MAX_ATTEMPTS: u32 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Queued,
    Sent,
    Failed,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The message's identity: a notice is `account#kind#date`, so queuing it twice is refused.
    pub pk: String,
    pub kind: String,
    pub account: String,
    pub to: String,
    pub subject: String,
    /// Dropped once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub state: MessageState,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(with = "stamp_serde")]
    pub queued_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("pk", &self.pk)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl OutboxMessage {
    pub fn new(
        id: String,
        kind: &str,
        account: &str,
        to: &str,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            pk: id,
            kind: kind.to_owned(),
            account: account.to_owned(),
            to: to.to_owned(),
            subject,
            body: Some(body),
            state: MessageState::Queued,
            attempts: 0,
            last_error: None,
            queued_at: now,
            sent_at: None,
            q: Some(OUTBOX_Q.into()),
            due: Some(time::stamp(now)),
        }
    }

    /// The put that queues it, refused if a message with this identity exists.
    pub fn queue(&self, store: &Store) -> Result<TransactWriteItem, ApiError> {
        tx::put(&store.tables.outbox, to_item(self)?, Some("attribute_not_exists(pk)"), Expr::new())
    }

    /// What a person or an operator may see of it: never the body.
    pub fn view(&self) -> serde_json::Value {
        json!({
            "id": self.pk, "kind": self.kind, "to": self.to, "subject": self.subject, "state": self.state,
            "attempts": self.attempts, "last_error": self.last_error,
            "queued_at": time::rfc3339(self.queued_at), "sent_at": self.sent_at.map(time::rfc3339),
        })
    }
}

/// R-LC-5: queues every notice due today, for accounts whose valid_until or right_until is
/// within the next 30 days; returns (queued, items read). A notice already queued for the same
/// account, kind and date is not queued again.
pub async fn queue_notices(app: &App, ctx: &Ctx, actor: &str) -> Result<(u64, u64), ApiError> {
    let today = ctx.today();
    let mut queued = 0;
    let mut read = 0;
    for (index, attribute, kind) in [
        (VALID_UNTIL_INDEX, "valid_until", NoticeKind::AccountRevocation),
        (RIGHT_UNTIL_INDEX, "right_until", NoticeKind::RightExpiry),
    ] {
        for day in 0..=notices::NOTICE_DAYS {
            let date = today + Duration::days(day);
            let mut start = None;
            loop {
                let out = app
                    .store
                    .db
                    .query()
                    .table_name(&app.store.tables.accounts)
                    .index_name(index)
                    .key_condition_expression("#d = :d")
                    .expression_attribute_names("#d", attribute)
                    .expression_attribute_values(":d", s(date.to_string()))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                read += u64::try_from(out.count).unwrap_or(0);
                for item in out.items.unwrap_or_default() {
                    let Holder::Utokyo(account) = super::accounts::holder_from_item(item)? else { continue };
                    if notices::due_notice(&account, kind, today) == Some(date)
                        && queue_notice(app, ctx, actor, &account, kind, date).await?
                    {
                        queued += 1;
                    }
                }
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
    }
    Ok((queued, read))
}

/// Queues one notice with its audit record; false if it was queued before.
async fn queue_notice(
    app: &App,
    ctx: &Ctx,
    actor: &str,
    account: &Account,
    kind: NoticeKind,
    date: chrono::NaiveDate,
) -> Result<bool, ApiError> {
    let (subject, body) = notices::message(account, kind, date);
    let message = OutboxMessage::new(
        notices::notice_id(&account.id, kind, date),
        kind.as_str(),
        &account.id,
        &account.mail_address,
        subject,
        body,
        ctx.now,
    );
    let items = vec![
        message.queue(&app.store)?,
        AuditRecord::new(ctx, actor, &account.key(), "notice.queued")
            .change(serde_json::Value::Null, json!({ "notice": message.pk, "to": message.to }))
            .put(&app.store)?,
    ];
    match tx::commit(&app.store, items).await {
        Ok(()) => Ok(true),
        Err(TxError::Refused(_)) => Ok(false),
        Err(TxError::Failed(e)) => Err(e),
    }
}

/// Sends what is due (at most `budget` messages); returns (sent, failed, items read). Without a
/// mailer nothing is tried: the messages wait, queued.
pub async fn send_due(app: &App, ctx: &Ctx, budget: usize) -> Result<(u64, u64, u64), ApiError> {
    let Some(mailer) = &app.mailer else { return Ok((0, 0, 0)) };
    let out = app
        .store
        .db
        .query()
        .table_name(&app.store.tables.outbox)
        .index_name(OUTBOX_INDEX)
        .key_condition_expression("q = :q AND due <= :now")
        .expression_attribute_values(":q", s(OUTBOX_Q))
        .expression_attribute_values(":now", s(time::stamp(ctx.now)))
        .limit(i32::try_from(budget.clamp(1, 1000)).unwrap_or(1000))
        .send()
        .await
        .map_err(sdk_error)?;
    let read = u64::try_from(out.count).unwrap_or(0);
    let (mut sent, mut failed) = (0, 0);
    for item in out.items.unwrap_or_default() {
        let message: OutboxMessage = from_item(item)?;
        let result = mailer.send(&message.to, &message.subject, message.body.as_deref().unwrap_or_default()).await;
        record_attempt(&app.store, ctx, &message, result.as_ref().err()).await?;
        if result.is_ok() { sent += 1 } else { failed += 1 }
    }
    Ok((sent, failed, read))
}

/// Sends one message now (an invitation, a confirmation: the person is waiting for it). A failure
/// leaves it queued for the next run.
pub async fn send_now(app: &App, ctx: &Ctx, message: &OutboxMessage) -> Result<(), ApiError> {
    let Some(mailer) = &app.mailer else { return Ok(()) };
    let result = mailer.send(&message.to, &message.subject, message.body.as_deref().unwrap_or_default()).await;
    if let Err(e) = &result {
        tracing::warn!(outbox_message = %message.pk, error = %e, "mail not sent now; the next run retries it");
    }
    record_attempt(&app.store, ctx, message, result.as_ref().err()).await
}

/// The delivery state after one attempt, conditioned on no other attempt having been recorded.
async fn record_attempt(
    store: &Store,
    ctx: &Ctx,
    message: &OutboxMessage,
    error: Option<&String>,
) -> Result<(), ApiError> {
    let attempts = message.attempts + 1;
    let base = Expr::new()
        .name("#state", "state")
        .value(":seen", n(i64::from(message.attempts)))
        .value(":attempts", n(i64::from(attempts)))
        .set("attempts = :attempts");
    let expr = match error {
        None => base
            .set("#state = :sent")
            .set("sent_at = :now")
            .remove("q")
            .remove("due")
            .remove("body")
            .remove("last_error")
            .value(":sent", s("sent"))
            .value(":now", s(time::stamp(ctx.now))),
        Some(e) => {
            // Back off: 15 minutes, doubling, at most a day; then left failed for an operator.
            let wait = Duration::minutes((15_i64 << attempts.min(7)).min(24 * 60));
            let expr = base
                .set("#state = :failed")
                .set("last_error = :error")
                .value(":failed", s("failed"))
                .value(":error", s(e.chars().take(500).collect::<String>()));
            if attempts >= MAX_ATTEMPTS {
                expr.remove("q").remove("due")
            } else {
                expr.set("due = :due").value(":due", s(time::stamp(ctx.now + wait)))
            }
        }
    };
    let key = Item::from([("pk".to_owned(), s(message.pk.clone()))]);
    let item = tx::update(&store.tables.outbox, key, Some("attempts = :seen"), expr)?;
    match tx::commit(store, vec![item]).await {
        Ok(()) | Err(TxError::Refused(_)) => Ok(()),
        Err(TxError::Failed(e)) => Err(e),
    }
}

pub const BY_ACCOUNT_INDEX: &str = "by-account";

impl Store {
    /// The latest messages to an account, newest first (the `by-account` index).
    pub async fn outbox_of(&self, account: &str, limit: i32) -> Result<Vec<OutboxMessage>, ApiError> {
        self.newest_by(&self.tables.outbox, Some(BY_ACCOUNT_INDEX), "account", account, limit).await
    }
}
