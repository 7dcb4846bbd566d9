//! The `accounts` table: UTokyo and workshop accounts under one key space (`realm#id`), with the
//! sparse sweep index `sweep-due` (`sweep_q` = "due", `sweep_on` = the date the daily sweep must
//! look at the account; R-SWEEP-2).

use chrono::NaiveDate;

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::tx::{self, Expr};
use super::{Due, Item, Store, from_item, get_s, s, sdk_error, to_item};
use crate::domain::account::{Account, Holder, Realm, WorkshopAccount, account_key};
use crate::error::ApiError;

/// The constant partition of the sweep index.
pub const SWEEP_Q: &str = "due";
pub const SWEEP_INDEX: &str = "sweep-due";

pub fn key(realm: Realm, id: &str) -> Item {
    Item::from([("pk".to_owned(), s(account_key(realm, id)))])
}

/// R-SEC-3, R-SEC-4: a condition in a transaction that the account is usable on `today` —
/// active, within its dates, not locked — and that its credentials have not changed since
/// `asked_at` (a reset, a password change or a lock ends what was asked for before it: an
/// attacker's pending forwarding request dies with the attacker's access).
pub fn usable_check(
    store: &Store,
    id: &str,
    today: NaiveDate,
    asked_at: chrono::DateTime<chrono::Utc>,
) -> Result<TransactWriteItem, ApiError> {
    tx::check(
        &store.tables.accounts,
        key(Realm::Utokyo, id),
        "#status = :active AND attribute_not_exists(#lock) AND valid_from <= :today AND valid_until >= :today \
         AND (attribute_not_exists(credentials_changed_at) OR credentials_changed_at < :asked)",
        Expr::new()
            .name("#status", "status")
            .name("#lock", "lock")
            .value(":active", s("active"))
            .value(":today", s(today.to_string()))
            .value(":asked", s(crate::domain::time::stamp(asked_at))),
    )
}

/// An expression on the account's second factor: `#sf` stands for the attribute (R-CRED-3).
pub fn second_factor_expr() -> Expr {
    Expr::new().name("#sf", "second_factor")
}

/// The stored item of an account: its fields, its key and realm, and its sweep index entry.
pub fn account_item(a: &Account) -> Result<Item, ApiError> {
    let mut item = to_item(a)?;
    item.insert("pk".into(), s(a.key()));
    item.insert("realm".into(), s(Realm::Utokyo.as_str()));
    add_sweep(&mut item, a.sweep_on());
    Ok(item)
}

pub fn workshop_item(w: &WorkshopAccount) -> Result<Item, ApiError> {
    let mut item = to_item(w)?;
    item.insert("pk".into(), s(w.key()));
    item.insert("realm".into(), s(Realm::Workshop.as_str()));
    add_sweep(&mut item, w.sweep_on());
    Ok(item)
}

fn add_sweep(item: &mut Item, on: Option<NaiveDate>) {
    if let Some(on) = on {
        item.insert("sweep_q".into(), s(SWEEP_Q));
        item.insert("sweep_on".into(), s(on.to_string()));
    }
}

/// Keeps the sweep index in step with a new sweep date, in an update that changes a right.
pub fn with_sweep(expr: Expr, on: Option<NaiveDate>) -> Expr {
    match on {
        Some(on) => expr
            .set("sweep_q = :sweep_q")
            .set("sweep_on = :sweep_on")
            .value(":sweep_q", s(SWEEP_Q))
            .value(":sweep_on", s(on.to_string())),
        None => expr.remove("sweep_q").remove("sweep_on"),
    }
}

pub fn holder_from_item(item: Item) -> Result<Holder, ApiError> {
    match get_s(&item, "realm") {
        Some("workshop") => Ok(Holder::Workshop(from_item(item)?)),
        _ => Ok(Holder::Utokyo(Box::new(from_item(item)?))),
    }
}

impl Store {
    /// The accounts whose sweep is due by `today` (R-SWEEP-1), in the sparse index.
    pub fn due_sweeps(&self, today: NaiveDate) -> Due<'_> {
        Due {
            table: &self.tables.accounts,
            index: SWEEP_INDEX,
            key: ("sweep_q", SWEEP_Q.to_owned()),
            upto: Some(("sweep_on", today.to_string())),
        }
    }

    /// One strongly consistent read of an account of either realm.
    pub async fn holder(&self, realm: Realm, id: &str) -> Result<Option<Holder>, ApiError> {
        if !realm.is_valid_id(id) {
            return Ok(None);
        }
        let out = self
            .db
            .get_item()
            .table_name(&self.tables.accounts)
            .set_key(Some(key(realm, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(holder_from_item).transpose()
    }

    /// An account of either realm and other items, in one strongly consistent BatchGetItem:
    /// `extra` as `(table, key)`, answered in the same order.
    pub async fn holder_with(
        &self,
        realm: Realm,
        id: &str,
        extra: &[(&str, Item)],
    ) -> Result<(Option<Holder>, Vec<Option<Item>>), ApiError> {
        if !realm.is_valid_id(id) {
            return Ok((None, vec![None; extra.len()]));
        }
        let mut keys: Vec<(&str, Item)> = vec![(self.tables.accounts.as_str(), key(realm, id))];
        keys.extend(extra.iter().cloned());
        let mut found = self.batch_get(&keys).await?.into_iter();
        let holder = found.next().flatten().map(holder_from_item).transpose()?;
        Ok((holder, found.collect()))
    }

    /// Items by `(table, key)`, in one BatchGetItem (strongly consistent; unprocessed keys are
    /// asked again, after 25, 50, 100 and 200 ms), answered in the same order. Keys still
    /// unprocessed after that are a 503 to retry, never an item that is not there: a 404 for an
    /// account that exists, or a default counter written into an audit record's "before".
    pub async fn batch_get(&self, keys: &[(&str, Item)]) -> Result<Vec<Option<Item>>, ApiError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut wanted: std::collections::HashMap<String, Vec<Item>> = std::collections::HashMap::new();
        for (table, k) in keys {
            let list = wanted.entry((*table).to_owned()).or_default();
            if !list.contains(k) {
                list.push(k.clone());
            }
        }
        let mut got: Vec<(String, Item)> = Vec::new();
        let mut request: std::collections::HashMap<String, KeysAndAttributes> = wanted
            .into_iter()
            .map(|(t, ks)| {
                let ka = KeysAndAttributes::builder().set_keys(Some(ks)).consistent_read(true).build();
                ka.map(|ka| (t, ka)).map_err(|e| ApiError::Internal(format!("batch get: {e}")))
            })
            .collect::<Result<_, _>>()?;
        for attempt in 0..5 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << (attempt - 1))).await;
            }
            let out = self.db.batch_get_item().set_request_items(Some(request)).send().await.map_err(sdk_error)?;
            for (table, items) in out.responses.unwrap_or_default() {
                got.extend(items.into_iter().map(|i| (table.clone(), i)));
            }
            request = out.unprocessed_keys.unwrap_or_default();
            if request.is_empty() {
                break;
            }
        }
        if !request.is_empty() {
            tracing::warn!(tables = request.len(), "batch get: keys still unprocessed after five tries");
            return Err(ApiError::ServiceUnavailable { retry_after: 1 });
        }
        Ok(keys
            .iter()
            .map(|(table, k)| {
                got.iter()
                    .find(|(t, item)| t == table && k.iter().all(|(name, v)| item.get(name) == Some(v)))
                    .map(|(_, item)| item.clone())
            })
            .collect())
    }

    /// A UTokyo account, if it exists.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, ApiError> {
        Ok(match self.holder(Realm::Utokyo, id).await? {
            Some(Holder::Utokyo(a)) => Some(*a),
            _ => None,
        })
    }
}
