//! The `outbox` table: every mail the service sends — notices (R-LC-5), invitations (R-LC-6),
//! forwarding confirmations (R-LC-7) — is first a record here, queued in the same transaction as
//! the change that causes it, then sent by SMTP. Each keeps its delivery state: queued, sent (with
//! when), or failed with the error and the attempts, retried later (the sparse index
//! `outbox-due` holds what is to be sent, by when). A sent message's body is dropped: it may carry
//! a one-time link.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::tx::{self, Expr};
use super::{Due, Store, to_item};
use crate::domain::time::{self, stamp_serde};
use crate::error::ApiError;

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

pub const BY_ACCOUNT_INDEX: &str = "by-account";

impl Store {
    /// The latest messages to an account, newest first (the `by-account` index).
    pub async fn outbox_of(&self, account: &str, limit: i32) -> Result<Vec<OutboxMessage>, ApiError> {
        self.newest_by(&self.tables.outbox, Some(BY_ACCOUNT_INDEX), "account", account, limit).await
    }
}

impl Store {
    /// The messages due to be sent (or tried again) by `now`.
    pub fn due_mail(&self, now: DateTime<Utc>) -> Due<'_> {
        Due {
            table: &self.tables.outbox,
            index: OUTBOX_INDEX,
            key: ("q", OUTBOX_Q.to_owned()),
            upto: Some(("due", time::stamp(now))),
        }
    }

    /// The accounts whose `valid_until` (or `right_until`) is `date`: those a notice may be due for.
    pub fn ending_on(&self, right: bool, date: NaiveDate) -> Due<'_> {
        let (index, attribute) =
            if right { (RIGHT_UNTIL_INDEX, "right_until") } else { (VALID_UNTIL_INDEX, "valid_until") };
        Due { table: &self.tables.accounts, index, key: (attribute, date.to_string()), upto: None }
    }
}
