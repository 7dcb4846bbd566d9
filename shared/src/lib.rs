//! The ECCS account service library. Every Lambda in `functions/` is a thin shell around it (it
//! parses the request, calls one use case and maps its result), and so are the local runner
//! (`infra/local`) and the tests.
//!
//! Four layers, each using only those below it (no module imports one that imports it back):
//!
//! - [`domain`] — the rules, pure (no I/O): each takes state, input and "today"/"now" and
//!   returns a decision. `account` (R-ACC, R-MENU), `application` (R-APP), `enrolment` (the
//!   registrar's records and activation keys, R-LC-1..4), `mail_address` (R-CMA), `password`
//!   (R-PWD, argon2id, SHA-512 crypt), `second_factor` (R-CRED-3), `secret` (one-time secrets:
//!   random, hashed, compared in constant time), `notices` (who is warned of what, and every
//!   mail's words, R-LC-5..7, R-SEC-2), `time` (JST, minute 0), `typed` (NFKC, SPEC §3).
//! - [`store`] — the repository: the DynamoDB client and table names, items ↔ types, keys,
//!   typed reads and queries (`Due`: what a sparse index holds as due), and the transaction
//!   primitives (`tx`). It knows no use case. [`provision`] beside it: the downstream target
//!   interface and the directory target (R-TGT-1).
//! - [`usecase`] — one module per capability, each taking its dependencies as
//!   [`usecase::Deps`] and writing through one unit of work ([`usecase::unit::Tx`]):
//!   `remote_access`, `cloud_mail`, `services` (conferencing, forwarding), `applications`,
//!   `lifecycle` (the help desk's import, keys, activation, lock), `credentials`,
//!   `second_factor`, `challenge` (the login's second step), `session` (login, R-LOGIN),
//!   `identity` and `identity_link` (R-CRED-4), `outbox`, `provisioning` (stage, apply,
//!   receipts) and `schedule` (the sync, the sweep and what they carry, under one driver).
//! - [`edge`] — how requests come in and answers go out: `http` (parsing, the caller, typed reads
//!   with it, `respond`), `auth` (RS256 JWT, JWKS), `lambda` (the runtime loop, logs), `json`,
//!   `metrics` (EMF), and the clients of other systems: `smtp`, `secrets`, `oidc`.
//!
//! Across them: [`error`] (the one error type, its status, code and message), [`ctx`] (who acts,
//! when, from where), [`config`] (the environment), and [`app`], which only assembles the layers
//! at cold start.
//!
//! Views: `view()` is how the API shows a record; `<reader>_view` is how one reader sees it
//! (`person_view`, `operator_view`, `target_view`, `registrar_view`, `audit_view`).

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
