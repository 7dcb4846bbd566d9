//! The unit of work: one [`Tx`] per change of state. It collects the change's writes and
//! conditions, its audit record (R-AUD-1) and its provisioning (R-TGT-1); commits them as one
//! `TransactWriteItems`; hands a refused condition to the caller once, as a [`Refusal`] or as the
//! one error the caller names; and after the commit applies what takes effect now but could not
//! join the transaction. No caller pairs a stage with an apply, or forgets the audit record: a
//! `Tx` made with [`Tx::new`] refuses to commit without one.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{Deps, provisioning};
use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::store::audit::AuditRecord;
use crate::store::changes::Change;
use crate::store::tx::{self, Refusal};

pub struct Tx<'a> {
    deps: Deps<'a>,
    ctx: &'a Ctx,
    /// Who the receipts of the provisioning name.
    actor: String,
    items: Vec<TransactWriteItem>,
    /// Provisioning due now that the target could not join: applied right after the commit.
    after_commit: Vec<Change>,
    /// An audit record is among the items, or none is owed (upkeep).
    audited: bool,
}

impl<'a> Tx<'a> {
    /// A change made by `actor` (an account key, or `system:…`): it commits only with its audit
    /// record.
    pub fn new(deps: &Deps<'a>, ctx: &'a Ctx, actor: &str) -> Self {
        Self { deps: *deps, ctx, actor: actor.to_owned(), items: Vec::new(), after_commit: Vec::new(), audited: false }
    }

    /// A write no person asked for and no audit record owes an account: an index entry put
    /// right, a one-time item spent, a delivery attempt counted.
    pub fn upkeep(deps: &Deps<'a>, ctx: &'a Ctx) -> Self {
        Self { audited: true, ..Self::new(deps, ctx, "system") }
    }

    /// Adds a write or a condition; returns its position, which a [`Refusal`] is indexed by.
    pub fn push(&mut self, item: TransactWriteItem) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }

    /// The change's audit record (R-AUD-1), written with it or not at all.
    pub fn audit(&mut self, record: AuditRecord) -> Result<(), ApiError> {
        self.items.push(record.put(self.deps.store)?);
        self.audited = true;
        Ok(())
    }

    /// Provisioning the change causes (R-TGT-1): what is due now and the target can join is
    /// written in this transaction and recorded as applied; what is due now otherwise is applied
    /// right after the commit (and by the hourly sync if that fails); the rest waits, pending.
    pub fn provision(&mut self, changes: Vec<Change>) -> Result<(), ApiError> {
        let later = provisioning::stage(&self.deps, self.ctx.now, changes, &mut self.items)?;
        self.after_commit.extend(later);
        Ok(())
    }

    /// Commits. `Ok(Err(refusal))`: a condition failed, nothing was written — the caller says why.
    pub async fn try_commit(self) -> Result<Result<(), Refusal>, ApiError> {
        if !self.audited {
            return Err(ApiError::Internal("a change without its audit record (R-AUD-1) is not committed".into()));
        }
        let committed = tx::try_commit(self.deps.store, self.items).await?;
        if committed.is_ok() {
            provisioning::apply_staged(&self.deps, self.ctx, &self.actor, self.after_commit).await;
        }
        Ok(committed)
    }

    /// Commits; any refused condition is `refused`.
    pub async fn commit_or(self, refused: ApiError) -> Result<(), ApiError> {
        self.try_commit().await?.map_err(|_| refused)
    }

    /// Commits; a refused condition is what `explain` makes of it.
    pub async fn commit_explained(self, explain: impl FnOnce(&Refusal) -> ApiError) -> Result<(), ApiError> {
        self.try_commit().await?.map_err(|r| explain(&r))
    }
}
