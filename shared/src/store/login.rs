//! The `login-attempts` table (R-LOGIN-3, R-LOGIN-4): failure windows that hold across function
//! instances. Every attempt — a password, an activation key, a current-password check (R-SEC-1) —
//! first *reserves* a place in three windows at once, in one transaction, before anything is
//! checked, so that even parallel attempts test no more than each window allows:
//!
//! | window | key | limit in 15 minutes |
//! |---|---|---|
//! | this account from this source (R-LOGIN-3) | `utokyo#0000000001@203.0.113.7` | [`PAIR_LIMIT`] |
//! | this account from every source (R-LOGIN-4) | `utokyo#0000000001` | [`ACCOUNT_LIMIT`] |
//! | this source for every account (R-LOGIN-4) | `source#203.0.113.7` | [`SOURCE_LIMIT`] |
//!
//! A full window refuses the attempt with nothing counted anywhere (the transaction is all or
//! nothing), so a source that is already refused cannot push the account's own window towards its
//! limit. The pair's and the source's windows refuse until they pass (15 minutes from their first
//! failure); the account's, once full, for 15 minutes from the failure that filled it ("then 15
//! minutes for everyone", R-LOGIN-4), however late in its window that came. A success gives its
//! places back: the pair window is cleared, the other two count one less, so only failures fill
//! them. Items carry a TTL (`expires`) for clean-up only; the logic reads `window_start` (and the
//! account's `last_failure_at`), never the TTL.

use chrono::{DateTime, Duration, Utc};

use super::tx::{self, Expr};
use super::{Item, Store, get_s, n, s};
use crate::domain::time;
use crate::error::ApiError;

/// R-LOGIN-3: failures for one account from one source.
pub const PAIR_LIMIT: i64 = 5;
/// R-LOGIN-4: failures for one account from all sources together.
pub const ACCOUNT_LIMIT: i64 = 50;
/// R-LOGIN-4: failures from one source across accounts.
pub const SOURCE_LIMIT: i64 = 30;
pub const WINDOW_MINUTES: i64 = 15;

/// The three windows one attempt counts in.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// Each window's key, limit, and whether, once full, it holds for a whole window from the
    /// failure that filled it (the account's) rather than until it passes.
    keys: [(String, i64, bool); 3],
}

impl Windows {
    /// For `account` (its item key, `utokyo#…`) tried from `source` (the address API Gateway saw).
    pub fn new(account: &str, source: &str) -> Self {
        let source = if source.is_empty() { "unknown" } else { source };
        Self {
            keys: [
                (format!("{account}@{source}"), PAIR_LIMIT, false),
                (account.to_owned(), ACCOUNT_LIMIT, true),
                (format!("source#{source}"), SOURCE_LIMIT, false),
            ],
        }
    }
}

/// What one window's item says about the next attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WindowState {
    /// No live window: the attempt opens a new one.
    Closed,
    /// A live window with room: the attempt counts in it.
    Open,
    /// A live, full window: refused for this many seconds.
    Full { retry_after: i64 },
}

/// `holds`: a full window refuses for a window's length from its last counted failure (the one
/// that filled it), not only until the window passes (the account's, [`Windows`]).
fn window_state(item: Option<&Item>, limit: i64, holds: bool, now: DateTime<Utc>) -> WindowState {
    let stamp = |name| item.and_then(|i| get_s(i, name)).and_then(time::parse_stamp);
    let failures = item.and_then(|i| i.get("failures")).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
    let Some(start) = stamp("window_start") else { return WindowState::Closed };
    let window = Duration::minutes(WINDOW_MINUTES);
    if failures.unwrap_or(0) >= limit {
        let filled = if holds { stamp("last_failure_at").unwrap_or(start) } else { start };
        let until = (start + window).max(filled + window);
        if until > now {
            WindowState::Full { retry_after: (until - now).num_seconds().max(1) }
        } else {
            WindowState::Closed
        }
    } else if start > now - window {
        WindowState::Open
    } else {
        WindowState::Closed
    }
}

impl Store {
    /// Takes one place in each of `windows`, or answers 429 with the seconds until the fullest
    /// window passes; nothing is counted when any window is full.
    pub async fn reserve_attempt(&self, windows: &Windows, now: DateTime<Utc>) -> Result<(), ApiError> {
        let cutoff = time::stamp(now - Duration::minutes(WINDOW_MINUTES));
        // What each window was last seen as; `Closed` means a new window is opened with a put.
        let mut states = [WindowState::Open; 3];
        for _ in 0..4 {
            let mut items = Vec::with_capacity(3);
            for ((key, limit, holds), state) in windows.keys.iter().zip(states) {
                items.push(if state == WindowState::Closed {
                    let mut item = Item::new();
                    item.insert("pk".into(), s(key.clone()));
                    item.insert("failures".into(), n(1));
                    item.insert("window_start".into(), s(time::stamp(now)));
                    item.insert("expires".into(), n(expiry(now)));
                    let cutoff_value = Expr::new().value(":cutoff", s(cutoff.clone()));
                    // Passed; a full window that holds, only a window after the failure that filled it.
                    let (passed, values) = if *holds {
                        item.insert("last_failure_at".into(), s(time::stamp(now)));
                        (
                            "attribute_not_exists(pk) OR (window_start <= :cutoff AND (failures < :max \
                             OR attribute_not_exists(last_failure_at) OR last_failure_at <= :cutoff))",
                            cutoff_value.value(":max", n(*limit)),
                        )
                    } else {
                        ("attribute_not_exists(pk) OR window_start <= :cutoff", cutoff_value)
                    };
                    tx::put(&self.tables.login_attempts, item, Some(passed), values)?
                } else {
                    let mut counted = Expr::new()
                        .set("failures = if_not_exists(failures, :zero) + :one")
                        .set("window_start = if_not_exists(window_start, :now)");
                    if *holds {
                        counted = counted.set("last_failure_at = :now");
                    }
                    tx::update(
                        &self.tables.login_attempts,
                        Item::from([("pk".to_owned(), s(key.clone()))]),
                        Some("attribute_not_exists(pk) OR (window_start > :cutoff AND failures < :max)"),
                        counted
                            .set("expires = if_not_exists(expires, :expires)")
                            .value(":zero", n(0))
                            .value(":one", n(1))
                            .value(":now", s(time::stamp(now)))
                            .value(":expires", n(expiry(now)))
                            .value(":cutoff", s(cutoff.clone()))
                            .value(":max", n(*limit)),
                    )?
                });
            }
            let Err(refusal) = tx::try_commit(self, items).await? else { return Ok(()) };
            for (i, (_, limit, holds)) in windows.keys.iter().enumerate() {
                if let Some(state) = states.get_mut(i) {
                    *state =
                        if refusal.failed(i) { window_state(refusal.item(i), *limit, *holds, now) } else { *state };
                }
            }
            let full = states
                .iter()
                .filter_map(|s| match s {
                    WindowState::Full { retry_after } => Some(*retry_after),
                    _ => None,
                })
                .max();
            if let Some(retry_after) = full {
                return Err(ApiError::TooManyAttempts { retry_after: retry_after.unsigned_abs() });
            }
            // A window had passed, or another attempt opened it first: go round again.
        }
        Err(ApiError::ServiceUnavailable { retry_after: 1 })
    }

    /// A successful attempt gives its places back: the pair window is cleared, the account's and
    /// the source's count one less. Best effort: a window that has meanwhile passed is left alone.
    pub async fn release_attempt(&self, windows: &Windows) -> Result<(), ApiError> {
        self.release_attempts(windows, 1).await
    }

    /// [`Store::release_attempt`] for a success that took `places` places (a login's password
    /// step and its second factor's code take two).
    pub async fn release_attempts(&self, windows: &Windows, places: i64) -> Result<(), ApiError> {
        let [(pair, ..), (account, ..), (source, ..)] = &windows.keys;
        let table = &self.tables.login_attempts;
        let clear = self.db.delete_item().table_name(table).key("pk", s(pair.clone())).send();
        let less = |key: &String| {
            self.db
                .update_item()
                .table_name(table)
                .key("pk", s(key.clone()))
                .update_expression("SET failures = failures - :one")
                .condition_expression("attribute_exists(pk) AND failures >= :one")
                .expression_attribute_values(":one", n(places))
                .send()
        };
        let (cleared, account, source) = tokio::join!(clear, less(account), less(source));
        cleared.map_err(super::sdk_error)?;
        for result in [account.map(|_| ()), source.map(|_| ())] {
            match result {
                Ok(()) => {}
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(super::sdk_error(e)),
            }
        }
        Ok(())
    }
}

fn is_condition_failure<R>(
    e: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
) -> bool {
    matches!(
        e,
        aws_sdk_dynamodb::error::SdkError::ServiceError(se)
            if se.err().is_conditional_check_failed_exception()
    )
}

/// TTL: a day after the window, for clean-up only.
fn expiry(now: DateTime<Utc>) -> i64 {
    (now + Duration::minutes(WINDOW_MINUTES) + Duration::days(1)).timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(start: DateTime<Utc>, failures: i64) -> Item {
        Item::from([("window_start".to_owned(), s(time::stamp(start))), ("failures".to_owned(), n(failures))])
    }

    #[test]
    fn r_login_3_4_windows_are_per_pair_account_and_source() {
        let w = Windows::new("utokyo#0000000001", "127.0.0.2");
        assert_eq!(w.keys[0], ("utokyo#0000000001@127.0.0.2".to_owned(), 5, false));
        assert_eq!(w.keys[1], ("utokyo#0000000001".to_owned(), 50, true), "the account's holds when full");
        assert_eq!(w.keys[2], ("source#127.0.0.2".to_owned(), 30, false));
    }

    #[test]
    fn r_login_3_a_full_live_window_refuses_until_it_passes() {
        let now: DateTime<Utc> = "2026-11-22T01:00:00Z".parse().unwrap();
        let start = now - Duration::minutes(5);
        for holds in [false, true] {
            assert_eq!(window_state(Some(&item(start, 5)), 5, holds, now), WindowState::Full { retry_after: 600 });
            assert_eq!(window_state(Some(&item(start, 4)), 5, holds, now), WindowState::Open);
            assert_eq!(window_state(Some(&item(now - Duration::minutes(15), 5)), 5, holds, now), WindowState::Closed);
            assert_eq!(window_state(None, 5, holds, now), WindowState::Closed);
        }
    }

    #[test]
    fn r_login_4_a_full_account_window_holds_15_minutes_from_the_failure_that_filled_it() {
        let now: DateTime<Utc> = "2026-11-22T01:00:00Z".parse().unwrap();
        // Opened 16 minutes ago, filled 2 minutes ago: passed, but it holds 13 minutes more.
        let mut filled_late = item(now - Duration::minutes(16), 50);
        filled_late.insert("last_failure_at".into(), s(time::stamp(now - Duration::minutes(2))));
        assert_eq!(window_state(Some(&filled_late), 50, true, now), WindowState::Full { retry_after: 780 });
        assert_eq!(window_state(Some(&filled_late), 50, false, now), WindowState::Closed, "the pair's passes");
        let later = now + Duration::minutes(13);
        assert_eq!(window_state(Some(&filled_late), 50, true, later), WindowState::Closed);
        // Not full: it passes with its window, whenever its last failure was.
        let mut not_full = item(now - Duration::minutes(16), 49);
        not_full.insert("last_failure_at".into(), s(time::stamp(now - Duration::minutes(2))));
        assert_eq!(window_state(Some(&not_full), 50, true, now), WindowState::Closed);
    }
}
