//! Identity verification (R-CRED-4) in the tables: flows and grants in login-attempts under digests, the uniqueness item of a link in accounts.

use chrono::{DateTime, Duration, Utc};

use super::{Item, Store, get_s, n, s, sdk_error};
use crate::domain::time;
use crate::error::ApiError;

/// How long a flow waits for its callback, and a grant for its new password.
pub const FLOW_MINUTES: i64 = 10;

pub const GRANT_MINUTES: i64 = 10;

/// What an authorization request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Link,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Link => "link",
            Purpose::Reset => "reset",
        }
    }
}

/// A flow as the callback gets it back.
#[derive(Debug, Clone)]
pub struct Flow {
    pub purpose: Purpose,
    pub account: String,
    pub browser_hash: String,
    pub pkce_verifier: String,
    pub nonce: String,
    /// A link's: the account's credentials version when it started.
    pub cv: Option<u64>,
}

/// SHA-256 of the exact bytes of `parts`, each length-prefixed (no two inputs share a digest:
/// an activation key's hash folds case and look-alikes; a `sub` or a `state` must not).
pub fn digest(parts: &[&str]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
        ctx.update(p.as_bytes());
    }
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn flow_key(state: &str) -> String {
    format!("oidc#{}", digest(&[state]))
}

pub fn grant_key(grant: &str) -> String {
    format!("grant#{}", digest(&[grant]))
}

/// What the audit record says of the provider account: not the `sub` itself, but enough for the
/// help desk to tell two apart.
pub fn subject_digest(issuer: &str, subject: &str) -> String {
    digest(&[issuer, subject]).chars().take(16).collect()
}

pub fn link_key(issuer: &str, subject: &str) -> Item {
    Item::from([("pk".to_owned(), s(format!("identity#{}", digest(&[issuer, subject]))))])
}

/// A short-lived item of the `login-attempts` table: `expires_at` is what the logic reads, the
/// TTL attribute `expires` only cleans up.
pub fn short_lived(
    pk: String,
    until: DateTime<Utc>,
    fields: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(pk)),
        ("expires_at".to_owned(), s(time::stamp(until))),
        ("expires".to_owned(), n((until + Duration::days(1)).timestamp())),
    ]);
    item.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
    item
}

pub fn live(item: &Item, now: DateTime<Utc>) -> bool {
    get_s(item, "expires_at").and_then(time::parse_stamp).is_some_and(|until| until > now)
}

impl Store {
    /// Keeps a flow until its callback (or 10 minutes).
    pub async fn save_flow(&self, state: &str, flow: &Flow, now: DateTime<Utc>) -> Result<(), ApiError> {
        let item = short_lived(
            flow_key(state),
            now + Duration::minutes(FLOW_MINUTES),
            vec![
                ("purpose", s(flow.purpose.as_str())),
                ("account", s(flow.account.clone())),
                ("browser", s(flow.browser_hash.clone())),
                ("verifier", s(flow.pkce_verifier.clone())),
                ("nonce", s(flow.nonce.clone())),
                ("cv", n(flow.cv.and_then(|v| i64::try_from(v).ok()).unwrap_or(-1))),
            ],
        );
        self.put_short_lived(item).await
    }

    /// Takes the flow of `state`: at most once, and only within its 10 minutes.
    pub async fn take_flow(&self, state: &str, now: DateTime<Utc>) -> Result<Option<Flow>, ApiError> {
        let old = self
            .db
            .delete_item()
            .table_name(&self.tables.login_attempts)
            .key("pk", s(flow_key(state)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?
            .attributes;
        let Some(item) = old.filter(|i| live(i, now)) else { return Ok(None) };
        let field = |k: &str| get_s(&item, k).unwrap_or_default().to_owned();
        let purpose = match get_s(&item, "purpose") {
            Some("link") => Purpose::Link,
            Some("reset") => Purpose::Reset,
            _ => return Ok(None),
        };
        Ok(Some(Flow {
            purpose,
            account: field("account"),
            browser_hash: field("browser"),
            pkce_verifier: field("verifier"),
            nonce: field("nonce"),
            cv: super::get_n(&item, "cv").and_then(|v| u64::try_from(v).ok()),
        }))
    }
}
