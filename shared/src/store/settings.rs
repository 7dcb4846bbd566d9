//! The `settings` table: the remote-access capacity and the number of users, in one item so that
//! one condition (`in_use < capacity`) guards them (R-RA-2). A missing item means the defaults.

use serde_json::json;

use super::audit::AuditRecord;
use super::tx::{self, Expr};
use super::{Item, Store, get_n, n, s, sdk_error};
use crate::ctx::Ctx;
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

    pub fn json(&self) -> serde_json::Value {
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

    /// Sets the capacity, audited in the same transaction. A capacity below the number of users
    /// turns nobody off; it only stops new users until the number falls below it.
    pub async fn set_capacity(&self, ctx: &Ctx, actor: &str, capacity: i64) -> Result<RemoteAccessCount, ApiError> {
        let before = self.remote_access_count().await?;
        let expr = Expr::new()
            .name("#capacity", "capacity")
            .set("#capacity = :capacity")
            .set("in_use = if_not_exists(in_use, :zero)")
            .value(":capacity", n(capacity))
            .value(":zero", n(0));
        let audit = AuditRecord::new(ctx, actor, &format!("settings#{REMOTE_ACCESS_KEY}"), "settings.capacity_set")
            .change(
                json!({ "remote_access_capacity": before.capacity }),
                json!({ "remote_access_capacity": capacity }),
            );
        let items = vec![tx::update(&self.tables.settings, settings_key(), None, expr)?, audit.put(self)?];
        tx::commit_or(self, items, ApiError::ServiceUnavailable { retry_after: 1 }).await?;
        Ok(RemoteAccessCount { capacity, in_use: before.in_use })
    }
}
