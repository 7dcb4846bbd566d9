//! The edges: how a request comes in and an answer goes out (HTTP, tokens, the runtime loop), and
//! the clients of other systems that are not the database (SMTP, Secrets Manager, the identity
//! verification provider, CloudWatch's metric format).

pub mod auth;
pub mod http;
pub mod json;
pub mod lambda;
pub mod metrics;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod secrets;
pub mod smtp;
