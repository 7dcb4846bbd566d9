//! The `services` table: what a person asked for beyond the portal, one item per account and
//! service, with one-time links sent by mail (R-LC-6..7). Unused links sit in the sparse index
//! `link-expiry` (`link_q`, `expires`) until they expire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Due, Item, Store, from_item, s, sdk_error};
use crate::domain::account::{Realm, account_key};
use crate::domain::time::{self, stamp_serde};
use crate::error::ApiError;

pub const CONFERENCING: &str = "conferencing";

pub const FORWARDING: &str = "forwarding";

/// R-LC-6: an invitation is valid 15 days.
pub const INVITATION_DAYS: i64 = 15;

/// R-LC-7: a forwarding confirmation link is valid 7 days.
pub const CONFIRMATION_DAYS: i64 = 7;

pub const LINK_Q: &str = "open";

pub const LINK_INDEX: &str = "link-expiry";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// A link was mailed and not used yet.
    Invited,
    Active,
    Expired,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The account key.
    pub pk: String,
    /// The service: `conferencing` or `forwarding`.
    pub sk: String,
    pub account: String,
    pub state: ServiceState,
    /// Forwarding: the address to forward to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    #[serde(with = "stamp_serde")]
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub expires: Option<DateTime<Utc>>,
    /// Conferencing: the account the service knows the person by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_serde::option")]
    pub activated_at: Option<DateTime<Utc>>,
    /// Index partition, present while a link is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_q: Option<String>,
}

impl std::fmt::Debug for ServiceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRecord")
            .field("pk", &self.pk)
            .field("sk", &self.sk)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ServiceRecord {
    /// The key of `account`'s record of `service` (to read it with the caller, in one call).
    pub fn key_of(account: &str, service: &str) -> Item {
        Item::from([("pk".to_owned(), s(account_key(Realm::Utokyo, account))), ("sk".to_owned(), s(service))])
    }

    /// The record from an item read by key, if there was one.
    pub fn from_read(item: Option<Item>) -> Result<Option<Self>, ApiError> {
        item.map(from_item).transpose()
    }

    /// What the person sees: never the token or its hash.
    pub fn view(&self) -> Value {
        json!({
            "state": self.state,
            "address": self.address,
            "requested_at": time::rfc3339(self.requested_at),
            "expires_at": self.expires.map(time::rfc3339),
            "service_account": self.service_account,
            "activated_at": self.activated_at.map(time::rfc3339),
        })
    }
}

impl Store {
    pub async fn service(&self, account: &str, service: &str) -> Result<Option<ServiceRecord>, ApiError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.tables.services)
            .set_key(Some(ServiceRecord::key_of(account, service)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_item).transpose()
    }
}

/// R-SEC-2: confirmation mails one account may have sent in a day (JST).
pub const FORWARDING_MAILS_PER_DAY: i64 = 5;

impl Store {
    /// The links whose time is up by `now` (R-LC-6..7).
    pub fn expired_links(&self, now: DateTime<Utc>) -> Due<'_> {
        Due {
            table: &self.tables.services,
            index: LINK_INDEX,
            key: ("link_q", LINK_Q.to_owned()),
            upto: Some(("expires", time::stamp(now))),
        }
    }
}
