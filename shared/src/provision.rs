//! Provisioning (R-TGT-1): the one interface through which the sync, the sweep and the immediate
//! actions tell downstream systems what they must see — cloud mail (address, password hash),
//! ECCS servers (enabled), remote access (allowed).
//!
//! The default target is the DynamoDB `directory` table that those systems read. Because it lives
//! in the same database it can *join* the caller's transaction, so an immediate action (remote
//! access, a usage right) is one transaction with its provisioning. Other targets (LDAP, a mail
//! provider's API) implement only [`Target::apply`]; their changes wait in the `changes` table
//! and are applied after the commit, and by the hourly sync when that fails.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::error::ApiError;
use crate::store::changes::{Change, ChangeKind};
use crate::store::tx::{self, Expr};
use crate::store::{Item, Store, b, s, sdk_error};

#[async_trait]
pub trait Target: Send + Sync {
    /// Recorded on each receipt.
    fn name(&self) -> &str;

    /// Applies one change. Must be idempotent: applying a change again, or an older change after
    /// a newer one, leaves the target as the newest change left it.
    async fn apply(&self, change: &Change) -> Result<(), String>;

    /// The one write that applies `changes` — all of one account — inside the caller's
    /// transaction, for a target that can join one (a transaction may touch an item only once).
    /// `None`: they are applied after the commit through [`Target::apply`].
    fn join(&self, _changes: &[Change]) -> Option<Result<TransactWriteItem, ApiError>> {
        None
    }
}

/// The `directory` table: one item per account id.
pub struct DirectoryTarget {
    store: Store,
}

impl DirectoryTarget {
    pub fn new(store: &Store) -> Self {
        Self { store: store.clone() }
    }

    /// The attributes `changes` (all of one account) set, each with the attribute holding the id
    /// of the change that set it last: `mail_address` and `mail_address_change`, and so on.
    fn assignment(changes: &[Change]) -> Result<(Item, Expr), String> {
        let first = changes.first().ok_or("no change")?;
        let mut expr = Expr::new().value(":account", s(first.account.clone())).set("account = :account");
        for (i, change) in changes.iter().enumerate() {
            if change.account != first.account {
                return Err("one directory write per account".into());
            }
            let (attr, value) = match change.kind {
                ChangeKind::MailAddress => ("mail_address", change.address.clone().map(s)),
                ChangeKind::MailForwarding => ("mail_forwarding", change.address.clone().map(s)),
                ChangeKind::MailPassword => ("mail_password_crypt", change.password_crypt.clone().map(s)),
                ChangeKind::RemoteAccess => ("remote_access_allowed", change.enabled.map(b)),
                ChangeKind::Eccs => ("eccs_enabled", change.enabled.map(b)),
            };
            let value = value.ok_or_else(|| format!("{:?} change without its value", change.kind))?;
            expr = expr
                .name(&format!("#v{i}"), attr)
                .name(&format!("#c{i}"), &format!("{attr}_change"))
                .value(&format!(":v{i}"), value)
                .value(&format!(":id{i}"), s(change.change_id.clone()))
                .set(&format!("#v{i} = :v{i}"))
                .set(&format!("#c{i} = :id{i}"));
        }
        Ok((Item::from([("pk".to_owned(), s(first.account.clone()))]), expr))
    }
}

#[async_trait]
impl Target for DirectoryTarget {
    fn name(&self) -> &str {
        "directory"
    }

    async fn apply(&self, change: &Change) -> Result<(), String> {
        let (key, expr) = Self::assignment(std::slice::from_ref(change))?;
        let result = self
            .store
            .db
            .update_item()
            .table_name(&self.store.tables.directory)
            .set_key(Some(key))
            .update_expression(expr.update_expression())
            .condition_expression("attribute_not_exists(#c0) OR #c0 < :id0")
            .set_expression_attribute_names(expr.names_map())
            .set_expression_attribute_values(expr.values_map())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // This change, or a newer one, is already there: nothing to do.
            Err(SdkError::ServiceError(se))
                if matches!(se.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(e).to_string()),
        }
    }

    fn join(&self, changes: &[Change]) -> Option<Result<TransactWriteItem, ApiError>> {
        Some(
            Self::assignment(changes)
                .map_err(ApiError::Internal)
                .and_then(|(key, expr)| tx::update(&self.store.tables.directory, key, None, expr)),
        )
    }
}
