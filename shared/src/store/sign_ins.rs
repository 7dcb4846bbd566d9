//! The `sign-ins` table (R-CRED-2): every sign-in attempt on an existing account — when, from
//! which address and browser, and how it ended — kept 90 days (DynamoDB TTL on `expires`), so
//! that a person sees their last 20 and the help desk sees them on the account page. An attempt
//! for an account that does not exist records nothing. No password, token or code is kept.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Store, sdk_error, to_item};
use crate::ctx::Ctx;
use crate::domain::time::{self, stamp_serde};
use crate::error::ApiError;

/// How long a record is kept.
pub const KEEP_DAYS: i64 = 90;
/// How many a person and the help desk see.
pub const SHOWN: i32 = 20;
/// The longest User-Agent kept.
const MAX_USER_AGENT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInResult {
    Success,
    WrongPassword,
    WrongCode,
    /// Refused by a full failure window (R-LOGIN-3/4): the source that tried is recorded.
    Locked,
    /// The right password for an account that may not sign in (revoked, expired, locked), or a
    /// login's second step whose account was locked, revoked or changed since its password step.
    Refused,
    /// The right password; the second factor's code was asked for (R-CRED-3).
    CodeRequested,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    /// The account key (`utokyo#…`, `workshop#…`).
    pub pk: String,
    /// `stamp#UUID v7`: newest last, unique; the time-ordered id keeps attempts of one instant
    /// in the order they came.
    pub sk: String,
    #[serde(with = "stamp_serde")]
    pub at: DateTime<Utc>,
    pub result: SignInResult,
    pub source_ip: String,
    pub user_agent: String,
    /// TTL (Unix seconds).
    pub expires: i64,
}

impl SignIn {
    pub fn new(ctx: &Ctx, account_key: &str, result: SignInResult) -> Self {
        Self {
            pk: account_key.to_owned(),
            sk: format!("{}#{}", time::stamp(ctx.now), uuid::Uuid::now_v7()),
            at: ctx.now,
            result,
            source_ip: ctx.source_ip.clone(),
            user_agent: ctx.user_agent.chars().take(MAX_USER_AGENT).collect(),
            expires: (ctx.now + Duration::days(KEEP_DAYS)).timestamp(),
        }
    }

    /// The stand-in for an attempt on an id with no account (R-SEC-6): always the same item, so
    /// it costs what a record costs and keeps nothing.
    pub fn nobody(ctx: &Ctx) -> Self {
        Self {
            pk: "nobody".into(),
            sk: "nobody".into(),
            at: ctx.now,
            result: SignInResult::WrongPassword,
            source_ip: String::new(),
            user_agent: String::new(),
            expires: (ctx.now + Duration::days(1)).timestamp(),
        }
    }

    /// A refusal by a full window: one record per source and window (its key is the window's
    /// start), kept up to date by each further refusal.
    pub fn locked(ctx: &Ctx, account_key: &str, retry_after: u64) -> Self {
        let window_start = ctx.now + Duration::seconds(i64::try_from(retry_after).unwrap_or(0))
            - Duration::minutes(crate::store::login::WINDOW_MINUTES);
        Self {
            sk: format!("{}#locked#{}", time::stamp(window_start), ctx.source_ip),
            ..Self::new(ctx, account_key, SignInResult::Locked)
        }
    }

    pub fn view(&self) -> Value {
        json!({
            "at": time::rfc3339(self.at),
            "result": self.result,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
        })
    }
}

impl Store {
    pub async fn record_sign_in(&self, record: &SignIn) -> Result<(), ApiError> {
        self.db
            .put_item()
            .table_name(&self.tables.sign_ins)
            .set_item(Some(to_item(record)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// The last [`SHOWN`] attempts on an account, newest first (one query).
    pub async fn sign_ins_of(&self, account_key: &str) -> Result<Vec<SignIn>, ApiError> {
        self.newest(&self.tables.sign_ins, account_key, SHOWN).await
    }
}
