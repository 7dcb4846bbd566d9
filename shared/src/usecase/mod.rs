//! The use cases: one module per capability. Each takes its dependencies explicitly ([`Deps`]:
//! the store, the provisioning target, the mailer, the clock and the site's settings), never the
//! whole [`crate::App`], and writes through one unit of work ([`unit::Tx`]).

#[cfg(feature = "oidc")]
pub mod identity;
pub mod schedule;
pub mod session;
