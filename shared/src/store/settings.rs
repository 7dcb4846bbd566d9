//! The `settings` table: the remote-access capacity and the number of users, in one item so that
//! one condition (`in_use < capacity`) guards them (R-RA-2). A missing item means the defaults.

use serde_json::json;

use super::{Item, Store, get_n, s, sdk_error};
use crate::error::ApiError;

pub const REMOTE_ACCESS_KEY: &str = "remote_access";
/// SPEC R-RA-2: default capacity.
pub const DEFAULT_CAPACITY: i64 = 1000;
/// The largest capacity an operator may set.
pub const MAX_CAPACITY: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAccessCount {
    pub capacity: i64,
    pub in_use: i64,
}

impl RemoteAccessCount {
    pub fn from_item(item: Option<&Item>) -> Self {
        Self {
            capacity: item.and_then(|i| get_n(i, "capacity")).unwrap_or(DEFAULT_CAPACITY),
            in_use: item.and_then(|i| get_n(i, "in_use")).unwrap_or(0),
        }
    }

    pub fn view(&self) -> serde_json::Value {
        json!({ "remote_access_capacity": self.capacity, "remote_access_in_use": self.in_use })
    }
}

pub fn settings_key() -> Item {
    Item::from([("pk".to_owned(), s(REMOTE_ACCESS_KEY))])
}

impl Store {
    pub async fn remote_access_count(&self) -> Result<RemoteAccessCount, ApiError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.tables.settings)
            .set_key(Some(settings_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(RemoteAccessCount::from_item(out.item.as_ref()))
    }
}

/// The remote-access counter one down, in a transaction that turns one account's access off; it
/// never goes below zero (the condition).
pub fn one_user_fewer(store: &Store) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, ApiError> {
    super::tx::update(
        &store.tables.settings,
        settings_key(),
        Some("in_use > :zero"),
        super::tx::Expr::new().set("in_use = in_use - :one").value(":zero", super::n(0)).value(":one", super::n(1)),
    )
}
