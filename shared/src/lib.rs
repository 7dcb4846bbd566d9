//! The ECCS account service library: the domain and its edges. Every Lambda in `functions/` is a
//! thin shell around it, and so are the local runner (`infra/local`) and the tests.
//!
//! Pure rules (no I/O; each takes state, input and "today"/"now" and returns a decision):
//! - [`account`] — accounts, the right, menu availability (R-ACC, R-MENU)
//! - [`mail`] — the address rule, the 30-day rule (R-CMA)
//! - [`password`] — the password policy (R-PWD), argon2id, SHA-512 crypt (R-CMP-3)
//! - [`application`] — usage, suspension and proxy rules and records (R-APP-*)
//! - [`lifecycle`] — import, activation keys, identity verification (R-LC-1..4)
//! - [`notices`] — who is warned of what, and the words (R-LC-5)
//! - [`time`] — the Clock, JST, next minute 0, `effective_on`
//! - [`typed`] — what people type: NFKC and trimmed (SPEC §3)
//!
//! Edges:
//! - [`store`] — DynamoDB: tables, items, and the transactions that hold every invariant
//!   (`store::identity`: the link, the reset's flows and grants, R-CRED-4)
//! - [`schedule`] — the hourly sync and the daily sweep (R-SYNC, R-SWEEP)
//! - [`mailer`] — SMTP for the outbox
//! - [`secrets`] — Secrets Manager, for the functions that read a secret at cold start
//! - [`metrics`] — the schedules' run figures as CloudWatch metrics (EMF, R-OPS-2)
//! - [`provision`] — the downstream target interface and the directory target (R-TGT)
//! - [`session`] — login with the failure window (R-LOGIN)
//! - [`auth`] — RS256 JWT, JWKS, discovery (R-LOGIN-1)
//! - `oidc`, `identity` (feature `oidc`) — the relying party of the identity verification
//!   provider, and the two legs of its sign-in shared by the link and the reset (R-CRED-4)
//! - [`http`] — request parsing, the caller, responses and request logs
//! - [`error`] — [`error::ApiError`], the one error type with its status, code and message
//! - [`app`], [`config`], [`ctx`], [`lambda`] — set-up at cold start, per-request context, the
//!   runtime loop

pub mod app;
pub mod config;
pub mod ctx;
pub mod domain;
pub mod edge;
pub mod error;
pub mod provision;
pub mod store;
pub mod usecase;

pub use app::App;
pub use ctx::Ctx;
pub use error::ApiError;
