//! The `audit` table (R-AUD-1): one record per change of state — actor, on whose behalf, action,
//! before → after summary, time, request id, source address — always written in the transaction
//! of the change it describes. Summaries are built by the callers from non-secret fields only.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tx::{self, Expr};
use super::{Store, to_item};
use crate::ctx::Ctx;
use crate::domain::time;
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// Whose state changed: an account key (`utokyo#…`) or a settings key.
    pub pk: String,
    pub sk: String,
    pub action: String,
    /// Who did it: an account key, or `system:<schedule>`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    pub before: Value,
    pub after: Value,
    pub at: String,
    pub request_id: String,
    pub source_ip: String,
}

impl AuditRecord {
    pub fn new(ctx: &Ctx, actor: &str, subject: &str, action: &str) -> Self {
        Self {
            pk: subject.to_owned(),
            sk: format!("{}#{}#{action}", time::stamp(ctx.now), ctx.request_id),
            action: action.to_owned(),
            actor: actor.to_owned(),
            on_behalf_of: None,
            before: Value::Null,
            after: Value::Null,
            at: time::stamp(ctx.now),
            request_id: ctx.request_id.clone(),
            source_ip: ctx.source_ip.clone(),
        }
    }

    pub fn on_behalf_of(mut self, subject: &str) -> Self {
        self.on_behalf_of = Some(subject.to_owned());
        self
    }

    pub fn change(mut self, before: Value, after: Value) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    /// The put that goes into the change's transaction.
    pub fn put(&self, store: &Store) -> Result<TransactWriteItem, ApiError> {
        tx::put(&store.tables.audit, to_item(self)?, Some("attribute_not_exists(pk)"), Expr::new())
    }
}

impl Store {
    /// An account's audit records, newest first.
    pub async fn audit_of(&self, subject: &str, limit: i32) -> Result<Vec<AuditRecord>, ApiError> {
        self.newest(&self.tables.audit, subject, limit).await
    }
}
