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
pub mod calls;
pub mod changes;
pub mod credentials;
pub mod identity;
pub mod lifecycle;
pub mod login;
pub mod mail;
pub mod outbox;
pub mod remote_access;
pub mod runs;
pub mod second_factor;
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
