//! The `login-attempts` table (R-LOGIN-3): a failure window per account that holds across
//! function instances. Every attempt first *reserves* a place in the window with one conditional
//! update, before the password is checked, so that even parallel attempts test at most
//! [`MAX_FAILURES`] passwords per window. A success clears the window. Items carry a TTL
//! (`expires`) for clean-up only; the logic reads `window_start`, never the TTL.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Duration, Utc};

use super::{Item, Store, get_s, n, s, sdk_error};
use crate::error::ApiError;
use crate::time;

pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_MINUTES: i64 = 15;

impl Store {
    /// Takes one place in `key`'s failure window, or answers 429 with the seconds until the
    /// window passes.
    pub async fn reserve_login_attempt(&self, key: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let cutoff = time::stamp(now - Duration::minutes(WINDOW_MINUTES));
        for _ in 0..4 {
            let out = self
                .db
                .update_item()
                .table_name(&self.tables.login_attempts)
                .key("pk", s(key))
                .update_expression(
                    "SET failures = if_not_exists(failures, :zero) + :one, \
                     window_start = if_not_exists(window_start, :now), expires = if_not_exists(expires, :expires)",
                )
                .condition_expression("attribute_not_exists(pk) OR (window_start > :cutoff AND failures < :max)")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", s(time::stamp(now)))
                .expression_attribute_values(":expires", n(expiry(now)))
                .expression_attribute_values(":cutoff", s(cutoff.clone()))
                .expression_attribute_values(":max", n(MAX_FAILURES))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let old = match out {
                Ok(_) => return Ok(()),
                Err(SdkError::ServiceError(se)) => match se.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(e) => e.item,
                    other => return Err(ApiError::Internal(format!("login attempts: {other}"))),
                },
                Err(e) => return Err(sdk_error(e)),
            };
            let old = match old {
                Some(item) => item,
                None => self.attempts_item(key).await?.unwrap_or_default(),
            };
            let window_start = get_s(&old, "window_start").and_then(time::parse_stamp);
            match window_start {
                // The window is live and full: locked until it passes.
                Some(start) if start > now - Duration::minutes(WINDOW_MINUTES) => {
                    let until = start + Duration::minutes(WINDOW_MINUTES);
                    let retry_after = (until - now).num_seconds().max(1);
                    return Err(ApiError::TooManyAttempts { retry_after: retry_after.unsigned_abs() });
                }
                // The old window has passed (or vanished): open a new one with this attempt.
                _ => {
                    let put = self
                        .db
                        .put_item()
                        .table_name(&self.tables.login_attempts)
                        .item("pk", s(key))
                        .item("failures", n(1))
                        .item("window_start", s(time::stamp(now)))
                        .item("expires", n(expiry(now)))
                        .condition_expression("attribute_not_exists(pk) OR window_start <= :cutoff")
                        .expression_attribute_values(":cutoff", s(cutoff.clone()))
                        .send()
                        .await;
                    match put {
                        Ok(_) => return Ok(()),
                        // Another attempt opened the window first: go round again.
                        Err(SdkError::ServiceError(se))
                            if matches!(se.err(), PutItemError::ConditionalCheckFailedException(_)) => {}
                        Err(e) => return Err(sdk_error(e)),
                    }
                }
            }
        }
        Err(ApiError::ServiceUnavailable { retry_after: 1 })
    }

    /// A successful login clears the window.
    pub async fn clear_login_attempts(&self, key: &str) -> Result<(), ApiError> {
        self.db
            .delete_item()
            .table_name(&self.tables.login_attempts)
            .key("pk", s(key))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn attempts_item(&self, key: &str) -> Result<Option<Item>, ApiError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.tables.login_attempts)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }
}

/// TTL: a day after the window, for clean-up only.
fn expiry(now: DateTime<Utc>) -> i64 {
    (now + Duration::minutes(WINDOW_MINUTES) + Duration::days(1)).timestamp()
}
