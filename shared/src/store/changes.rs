//! The `changes` table: what each downstream system must be told, one item per account and kind
//! (`mail_address`, `mail_password`, `remote_access`, `eccs`), so a newer change replaces an older
//! one that has not been applied yet ("the last one accepted before the sync wins", R-CMP-1).
//!
//! A pending change sits in the sparse index `pending-due` (`q` = "pending", `due` = when it
//! applies) — the hourly sync reads only what is due (R-SYNC-2). Once applied, the item keeps its
//! receipt (applied at, target) and leaves the index; a password's crypt hash is removed then
//! (R-CMP-3). A refused change keeps its error and attempt count and is due again at the next
//! minute 0 (R-SYNC-4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Due, Item, Store, from_item, s, sdk_error};
use crate::domain::account::{Realm, account_key};
use crate::domain::time::{self, stamp_serde};
use crate::error::ApiError;

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
    /// The sort key: one change of each kind per account.
    #[serde(rename = "sk")]
    pub kind: ChangeKind,
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
            .field("kind", &self.kind)
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
            kind,
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
    pub fn audit_view(&self) -> serde_json::Value {
        json!({
            "kind": self.kind,
            "address": self.address,
            "enabled": self.enabled,
            "state": self.state,
            "effective_at": time::rfc3339(self.effective_at),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "applied_at": self.applied_at.map(time::rfc3339),
        })
    }

    /// The item's key in the `changes` table.
    pub fn item_key(&self) -> Item {
        Item::from([("pk".to_owned(), s(self.pk.clone())), ("sk".to_owned(), s(self.kind.as_str()))])
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

    /// The pending changes due by `now`, in the sparse index (R-SYNC-2).
    pub fn due_changes(&self, now: DateTime<Utc>) -> Due<'_> {
        Due {
            table: &self.tables.changes,
            index: PENDING_INDEX,
            key: ("q", PENDING_Q.to_owned()),
            upto: Some(("due", time::stamp(now))),
        }
    }
}
