//! The `outbox` table: every mail the service sends — notices (R-LC-5), invitations (R-LC-6),
//! forwarding confirmations (R-LC-7) — is first a record here, queued in the same transaction as
//! the change that causes it, then sent by SMTP. Each keeps its delivery state: queued, sent (with
//! when), or failed with the error and the attempts, retried later (the sparse index
//! `outbox-due` holds what is to be sent, by when). A sent message's body is dropped: it may carry
//! a one-time link.

use chrono::Duration;
use serde_json::json;

use super::unit::Tx;
use super::{Deps, Mailer};
use crate::ctx::Ctx;
use crate::domain::account::Account;
use crate::domain::notices::{self, NoticeKind, SecurityNotice};
use crate::domain::time;
use crate::error::ApiError;
use crate::store::audit::AuditRecord;
use crate::store::outbox::{MAX_ATTEMPTS, OutboxMessage};
use crate::store::tx::{self, Expr};
use crate::store::{Item, n, s};

/// Queues one notice with its audit record; false if it was queued before.
pub async fn queue_notice(
    deps: &Deps<'_>,
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
    let mut tx = Tx::new(deps, ctx, actor);
    tx.push(message.queue(deps.store)?);
    tx.audit(
        AuditRecord::new(ctx, actor, &account.key(), "notice.queued")
            .change(serde_json::Value::Null, json!({ "notice": message.pk, "to": message.to })),
    )?;
    Ok(tx.try_commit().await?.is_ok())
}

/// Sends one queued message and records the attempt; true if it went. A mailer that is not
/// ready ([`Mailer::prepare`]: its SMTP URL not read) makes no attempt: the message keeps its
/// state, its attempts and its due time, and the next run tries again.
pub async fn send_one(
    deps: &Deps<'_>,
    ctx: &Ctx,
    mailer: &dyn Mailer,
    message: &OutboxMessage,
) -> Result<bool, ApiError> {
    if let Err(e) = mailer.prepare().await {
        tracing::error!(outbox_message = %message.pk, error = %e, "mail is not configured; the message waits in the outbox");
        return Ok(false);
    }
    let result = mailer.send(&message.to, &message.subject, message.body.as_deref().unwrap_or_default()).await;
    record_attempt(deps, ctx, message, result.as_ref().err()).await?;
    Ok(result.is_ok())
}

/// Sends one message now (an invitation, a confirmation: the person is waiting for it). A failure
/// leaves it queued for the next run.
pub async fn send_now(deps: &Deps<'_>, ctx: &Ctx, message: &OutboxMessage) -> Result<(), ApiError> {
    let Some(mailer) = deps.mailer else { return Ok(()) };
    if !send_one(deps, ctx, mailer.as_ref(), message).await? {
        tracing::warn!(outbox_message = %message.pk, "mail not sent now; the next run retries it");
    }
    Ok(())
}

/// The delivery state after one attempt, conditioned on no other attempt having been recorded.
async fn record_attempt(
    deps: &Deps<'_>,
    ctx: &Ctx,
    message: &OutboxMessage,
    error: Option<&String>,
) -> Result<(), ApiError> {
    let store = deps.store;
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
    let mut tx = Tx::upkeep(deps, ctx);
    tx.push(tx::update(&store.tables.outbox, key, Some("attempts = :seen"), expr)?);
    // Refused: another run recorded this attempt first.
    tx.try_commit().await?.ok();
    Ok(())
}

/// A security notice (R-SEC-2) to the account's own cloud mail, in the words of
/// [`SecurityNotice::message`].
pub fn security_notice(ctx: &Ctx, account: &Account, notice: SecurityNotice) -> OutboxMessage {
    let (subject, body) = notice.message(account, &time::rfc3339(ctx.now));
    OutboxMessage::new(
        format!("{}#{}#{}", account.id, notice.kind(), uuid::Uuid::now_v7()),
        notice.kind(),
        &account.id,
        &account.mail_address,
        subject,
        body,
        ctx.now,
    )
}
