//! DynamoDB: one module per table or feature, the item <-> type mapping (through `serde_dynamo`),
//! and the transactions that carry every invariant (capacity, 30-day rule, uniqueness, audit with
//! its change) as conditions — never as a read-then-write in Rust.
//!
//! | table | key | what it holds |
//! |---|---|---|
//! | accounts | `pk` = `utokyo#id` / `workshop#id`; GSIs `sweep-due` (`sweep_q`, `sweep_on`), `by-valid-until`, `by-right-until` | accounts (R-ACC) |
//! | changes | `pk`, `sk` = kind; GSI `pending-due` (`q`, `due`) | provisioning changes and their receipts (R-SYNC, R-TGT) |
//! | addresses | `address` | every cloud-mail address ever given, with its owner (R-CMA-4) |
//! | applications | `pk` = owner, `sk` = `created_at#id` | applications, under applicant and target (R-APP) |
//! | audit | `pk` = subject, `sk` = `at#request#n` | audit records (R-AUD-1) |
//! | settings | `pk` | the remote-access capacity and counter (R-RA-2) |
//! | runs | `pk` = schedule, `sk` = started | schedule run summaries (R-SYNC-1) |
//! | login-attempts | `pk`; TTL `expires` | failure windows (R-LOGIN-3) |
//! | directory | `pk` = account id | what downstream systems read (R-TGT-1) |
//! | services | `pk` = account, `sk` = service; GSI `link-expiry` (`link_q`, `expires`) | invitations and forwarding with their one-time links (R-LC-6..7) |
//! | outbox | `pk` = message id; GSIs `outbox-due` (`q`, `due`), `by-account` | mail to send and its delivery state (R-LC-5..7) |

pub mod accounts;
pub mod applications;
pub mod audit;
#[cfg(feature = "test-support")]
pub mod calls;
pub mod changes;
pub mod identity;
pub mod login;
pub mod outbox;
pub mod runs;
pub mod services;
pub mod settings;
pub mod sign_ins;
pub mod tx;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Tables;
use crate::error::ApiError;

pub type Item = HashMap<String, AttributeValue>;

/// The DynamoDB client and the table names.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: Client,
    pub tables: Tables,
}

impl Store {
    pub fn new(db: Client, tables: Tables) -> Self {
        Self { db, tables }
    }

    /// One item of a table keyed by `pk` alone, strongly consistent: one GetItem.
    pub async fn item(&self, table: &str, pk: &str) -> Result<Option<Item>, ApiError> {
        let out = self
            .db
            .get_item()
            .table_name(table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Puts a short-lived item (a login's challenge) in `login-attempts`, whose TTL clears it.
    pub async fn put_short_lived(&self, item: Item) -> Result<(), ApiError> {
        self.db
            .put_item()
            .table_name(&self.tables.login_attempts)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// The items of one partition, newest (highest sort key) first: one query.
    pub async fn newest<T: DeserializeOwned>(&self, table: &str, pk: &str, limit: i32) -> Result<Vec<T>, ApiError> {
        self.newest_by(table, None, "pk", pk, limit).await
    }

    /// The items whose partition key `attribute` (of the table or of its `index`) is `value`,
    /// newest (highest sort key) first: one query.
    pub async fn newest_by<T: DeserializeOwned>(
        &self,
        table: &str,
        index: Option<&str>,
        attribute: &str,
        value: &str,
        limit: i32,
    ) -> Result<Vec<T>, ApiError> {
        let out = self
            .db
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", attribute)
            .expression_attribute_values(":v", s(value))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }
}

/// What a sparse index holds as due: its partition `key = value`, and where the index has a sort
/// key, everything up to `upto` (`due <= now`, `sweep_on <= today`). The sync, the sweep, the
/// outbox, the links and the notices each read their work through one of these.
#[derive(Debug, Clone)]
pub struct Due<'a> {
    pub table: &'a str,
    pub index: &'a str,
    pub key: (&'a str, String),
    pub upto: Option<(&'a str, String)>,
}

impl Due<'_> {
    fn query(&self, store: &Store) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut q = store
            .db
            .query()
            .table_name(self.table)
            .index_name(self.index)
            .expression_attribute_names("#k", self.key.0)
            .expression_attribute_values(":k", s(self.key.1.clone()));
        q = match &self.upto {
            Some((attribute, upto)) => q
                .key_condition_expression("#k = :k AND #u <= :u")
                .expression_attribute_names("#u", *attribute)
                .expression_attribute_values(":u", s(upto.clone())),
            None => q.key_condition_expression("#k = :k"),
        };
        q
    }
}

impl Store {
    /// One page of what is due, oldest first, where to go on from, and the items read.
    pub async fn due_page(
        &self,
        due: &Due<'_>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>, usize), ApiError> {
        let out = due
            .query(self)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let read = usize::try_from(out.count).unwrap_or(0);
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key, read))
    }

    /// How many are due, page by page: (count, items read).
    pub async fn count_due(&self, due: &Due<'_>) -> Result<(u64, usize), ApiError> {
        let (mut total, mut read, mut start) = (0u64, 0usize, None);
        loop {
            let out = due
                .query(self)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            total += u64::try_from(out.count).unwrap_or(0);
            read += usize::try_from(out.scanned_count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((total, read));
            }
        }
    }
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, ApiError> {
    serde_dynamo::to_item(value).map_err(|e| ApiError::Internal(format!("to item: {e}")))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    serde_dynamo::from_item(item).map_err(|e| ApiError::Internal(format!("from item: {e}")))
}

pub fn to_av<T: Serialize>(value: &T) -> Result<AttributeValue, ApiError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| ApiError::Internal(format!("to attribute: {e}")))
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub fn get_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}

/// Maps an SDK failure: an unreachable or overloaded engine is 503 with `retry_after` (the client
/// may retry; nothing was half-written, every change is one transaction); anything else is ours.
pub fn sdk_error<E, R>(e: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let unavailable = ApiError::ServiceUnavailable { retry_after: 5 };
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => unavailable,
        SdkError::ServiceError(se)
            if matches!(
                se.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            ) =>
        {
            unavailable
        }
        _ => ApiError::Internal(DisplayErrorContext(&e).to_string()),
    }
}
