//! Transactions: every change of state is one `TransactWriteItems` carrying its conditions and
//! its audit record (R-AUD-1). When a condition fails, DynamoDB returns each item's state as it was
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), so the caller can say *why* without
//! another read.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::{Item, Store, sdk_error};
use crate::error::ApiError;

/// Expression attribute names and values of one operation, and for an update its `SET`,
/// `REMOVE` and `ADD` clauses.
#[derive(Default, Debug, Clone)]
pub struct Expr {
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
    set: Vec<String>,
    remove: Vec<String>,
    add: Vec<String>,
}

impl Expr {
    pub fn new() -> Self {
        Self::default()
    }

    /// `#name` stands for `attribute`.
    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.push((placeholder.to_owned(), attribute.to_owned()));
        self
    }

    /// `:value` stands for `value`.
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.push((placeholder.to_owned(), value));
        self
    }

    /// A `SET` clause: `"in_use = in_use + :one"`.
    pub fn set(mut self, clause: &str) -> Self {
        self.set.push(clause.to_owned());
        self
    }

    /// An attribute to `REMOVE`.
    pub fn remove(mut self, attribute: &str) -> Self {
        self.remove.push(attribute.to_owned());
        self
    }

    /// An `ADD` clause: `"attempts :one"`.
    pub fn add_clause(mut self, clause: &str) -> Self {
        self.add.push(clause.to_owned());
        self
    }

    pub fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        for (keyword, clauses) in [("SET", &self.set), ("REMOVE", &self.remove), ("ADD", &self.add)] {
            if !clauses.is_empty() {
                parts.push(format!("{keyword} {}", clauses.join(", ")));
            }
        }
        parts.join(" ")
    }

    pub fn names_map(&self) -> Option<std::collections::HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().cloned().collect())
    }

    pub fn values_map(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.iter().cloned().collect())
    }
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::Internal(format!("transaction item: {e}")))
}

/// A put, with an optional condition.
pub fn put(table: &str, item: Item, condition: Option<&str>, expr: Expr) -> Result<TransactWriteItem, ApiError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(expr.names_map())
            .set_expression_attribute_values(expr.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// An update of `key` by the clauses of `expr`, with an optional condition.
pub fn update(table: &str, key: Item, condition: Option<&str>, expr: Expr) -> Result<TransactWriteItem, ApiError> {
    let update = built(
        Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(expr.update_expression())
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(expr.names_map())
            .set_expression_attribute_values(expr.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// A delete of `key`, under a condition.
pub fn delete(table: &str, key: Item, condition: &str, expr: Expr) -> Result<TransactWriteItem, ApiError> {
    let delete = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names_map())
            .set_expression_attribute_values(expr.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A condition on an item the transaction does not change.
pub fn check(table: &str, key: Item, condition: &str, expr: Expr) -> Result<TransactWriteItem, ApiError> {
    let check = built(
        ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names_map())
            .set_expression_attribute_values(expr.values_map())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// Why a transaction was refused: per item, in order, whether its condition failed and the item
/// as it was.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Default)]
pub struct Reason {
    pub failed: bool,
    pub item: Option<Item>,
}

impl Refusal {
    /// Whether the condition of item `i` failed.
    pub fn failed(&self, i: usize) -> bool {
        self.reasons.get(i).is_some_and(|r| r.failed)
    }

    /// Item `i` as it was when its condition failed (`None` if it did not exist or passed).
    pub fn item(&self, i: usize) -> Option<&Item> {
        self.reasons.get(i).and_then(|r| r.item.as_ref())
    }
}

#[derive(Debug)]
enum TxError {
    /// A condition failed: the rule's own answer.
    Refused(Refusal),
    Failed(ApiError),
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        TxError::Failed(e)
    }
}

/// [`commit`] with the refusal as the inner result: `?` passes a failure on, the caller matches
/// the refusal. Below the use cases' unit of work (`usecase::unit::Tx`), for the
/// store's own writes (the login's windows) and the provisioning receipts.
pub async fn try_commit(store: &Store, items: Vec<TransactWriteItem>) -> Result<Result<(), Refusal>, ApiError> {
    match commit(store, items).await {
        Ok(()) => Ok(Ok(())),
        Err(TxError::Refused(refusal)) => Ok(Err(refusal)),
        Err(TxError::Failed(e)) => Err(e),
    }
}

/// Commits `items` as one transaction. A conflict with another transaction on the same items is
/// retried a few times with jitter; a failed condition is returned as a [`Refusal`].
async fn commit(store: &Store, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
    const ATTEMPTS: u32 = 6;
    refuse_repeated_items(&items)?;
    for attempt in 1..=ATTEMPTS {
        let result = store.db.transact_write_items().set_transact_items(Some(items.clone())).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let SdkError::ServiceError(se) = &err {
            if let TransactWriteItemsError::TransactionCanceledException(ex) = se.err() {
                let reasons = ex.cancellation_reasons();
                let conflict = reasons.iter().any(|r| r.code() == Some("TransactionConflict"));
                let failed = reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"));
                if failed || !conflict {
                    let mut refusal = Refusal {
                        reasons: reasons
                            .iter()
                            .map(|r| Reason {
                                failed: r.code() == Some("ConditionalCheckFailed"),
                                item: r.item().cloned(),
                            })
                            .collect(),
                    };
                    fill_missing_items(store, &items, &mut refusal).await?;
                    return Err(TxError::Refused(refusal));
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(jitter(attempt)).await;
                    continue;
                }
                return Err(TxError::Failed(ApiError::ServiceUnavailable { retry_after: 1 }));
            }
            if matches!(se.err(), TransactWriteItemsError::TransactionInProgressException(_)) && attempt < ATTEMPTS {
                tokio::time::sleep(jitter(attempt)).await;
                continue;
            }
        }
        return Err(TxError::Failed(sdk_error(err)));
    }
    Err(TxError::Failed(ApiError::ServiceUnavailable { retry_after: 1 }))
}

/// The table and key an operation of a transaction works on. Every table is keyed by `pk` (and
/// `sk`), except `addresses` by `address`.
fn operation_key(item: &TransactWriteItem) -> Option<(String, Item)> {
    let pick = |all: &Item| -> Item {
        let names: &[&str] = if all.contains_key("pk") { &["pk", "sk"] } else { &["address"] };
        names.iter().filter_map(|n| all.get(*n).map(|v| ((*n).to_owned(), v.clone()))).collect()
    };
    if let Some(p) = &item.put {
        Some((p.table_name.clone(), pick(&p.item)))
    } else if let Some(u) = &item.update {
        Some((u.table_name.clone(), u.key.clone()))
    } else if let Some(c) = &item.condition_check {
        Some((c.table_name.clone(), c.key.clone()))
    } else {
        item.delete.as_ref().map(|d| (d.table_name.clone(), d.key.clone()))
    }
}

/// DynamoDB refuses a transaction that touches one item twice; some emulators accept it. Refuse
/// it here too, so that such a transaction fails the tests instead of production.
fn refuse_repeated_items(items: &[TransactWriteItem]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for (table, key) in items.iter().filter_map(operation_key) {
        let key = format!("{:?}", key.iter().collect::<std::collections::BTreeMap<_, _>>());
        if !seen.insert((table.clone(), key.clone())) {
            return Err(ApiError::Internal(format!("a transaction touches {table} {key} twice")));
        }
    }
    Ok(())
}

/// DynamoDB returns the item of a failed condition (`ALL_OLD`); an engine that does not gets it
/// read here, so that every caller can explain the refusal the same way.
async fn fill_missing_items(store: &Store, items: &[TransactWriteItem], refusal: &mut Refusal) -> Result<(), ApiError> {
    for (reason, op) in refusal.reasons.iter_mut().zip(items) {
        if !reason.failed || reason.item.is_some() {
            continue;
        }
        if let Some((table, key)) = operation_key(op) {
            let out = store
                .db
                .get_item()
                .table_name(table)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
                .await
                .map_err(super::sdk_error)?;
            reason.item = out.item;
        }
    }
    Ok(())
}

fn jitter(attempt: u32) -> Duration {
    let spread = u64::from(attempt) * 20;
    let random = (uuid::Uuid::new_v4().as_u128() % u128::from(spread.max(1))) as u64;
    Duration::from_millis(5 + random)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::s;

    fn key(pk: &str) -> Item {
        Item::from([("pk".to_owned(), s(pk))])
    }

    #[test]
    fn a_transaction_may_touch_an_item_only_once_as_in_dynamodb() {
        let a = update("directory", key("1"), None, Expr::new().set("x = :x").value(":x", s("1"))).unwrap();
        let b = check("directory", key("1"), "attribute_exists(pk)", Expr::new()).unwrap();
        let c = update("directory", key("2"), None, Expr::new().set("x = :x").value(":x", s("1"))).unwrap();
        let d = put("accounts", key("1"), None, Expr::new()).unwrap();
        assert!(refuse_repeated_items(&[a.clone(), c.clone(), d.clone()]).is_ok(), "same key, other table");
        assert!(refuse_repeated_items(&[a, c, b]).is_err());
        assert!(refuse_repeated_items(&[d.clone(), d]).is_err());
    }
}
