//! Counting DynamoDB calls: an SDK interceptor that tallies every request sent, by operation
//! (`GetItem`, `TransactWriteItems`, …), retries included. The local runner can install it; the
//! benchmark and the calls-per-action test read it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

#[derive(Debug, Default, Clone)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>, Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    /// The calls since the last `take`, by operation; and starts again from zero.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The items the calls since the last `take_items` touched, by operation (a transaction's
    /// items, a batch's keys; one for the others): what request units are counted in.
    pub fn take_items(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.1.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// How many items a request touches: `TransactItems`, `RequestItems.*.Keys`, else one.
fn items_of(operation: &str, body: Option<&[u8]>) -> u64 {
    let Some(v) = body.and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok()) else { return 1 };
    let len = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_array).map_or(0, |a| a.len() as u64);
    let tables = v.get("RequestItems").and_then(serde_json::Value::as_object);
    match operation {
        "TransactWriteItems" | "TransactGetItems" => len(v.get("TransactItems")).max(1),
        "BatchGetItem" => tables.map_or(1, |t| t.values().map(|r| len(r.get("Keys"))).sum()),
        "BatchWriteItem" => tables.map_or(1, |t| t.values().map(|r| len(Some(r))).sum()),
        _ => 1,
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "eccs-call-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB names the operation in the X-Amz-Target header: DynamoDB_20120810.GetItem.
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        let items = items_of(&operation, context.request().body().bytes());
        *self.1.lock().unwrap_or_else(|p| p.into_inner()).entry(operation.clone()).or_default() += items;
        *self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(operation).or_default() += 1;
        Ok(())
    }
}
