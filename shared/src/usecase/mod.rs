//! The use cases: one module per capability. Each takes its dependencies explicitly as [`Deps`]
//! (the store, the provisioning target, the mailer, the keys, the site's settings) — never the
//! whole [`crate::App`], which only assembles them — and writes through one unit of work
//! ([`unit::Tx`]): its items, its audit record and its provisioning, committed together.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::time::Clock;
use crate::edge::auth::{Keys, TokenSettings};
use crate::provision::Target;
use crate::store::Store;

pub mod applications;
pub mod challenge;
pub mod cloud_mail;
pub mod credentials;
#[cfg(feature = "oidc")]
pub mod identity;
pub mod identity_link;
pub mod lifecycle;
pub mod outbox;
pub mod provisioning;
pub mod remote_access;
pub mod schedule;
pub mod second_factor;
pub mod services;
pub mod session;
pub mod unit;

/// Where mail goes (the outbox's sender). SMTP in AWS and locally (`edge::smtp`); the
/// tests plug in their own.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// What the mailer needs before a message can go (its configuration, where that is read
    /// late). A failure is not a delivery attempt: the message stays queued as it was.
    async fn prepare(&self) -> Result<(), String> {
        Ok(())
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
}

/// What a use case may use, by reference: built by [`crate::App::deps`], or by a test from parts.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub store: &'a Store,
    /// Where provisioning goes (R-TGT-1).
    pub target: &'a dyn Target,
    /// `None`: mail waits in the outbox.
    pub mailer: Option<&'a Arc<dyn Mailer>>,
    pub clock: &'a Clock,
    pub keys: &'a Keys,
    pub tokens: &'a TokenSettings,
    /// The cloud-mail domain (`@…`).
    pub mail_domain: &'a str,
    /// The portal's address, for the links in mail.
    pub portal_url: &'a str,
    /// The identity verification provider (R-CRED-4); `None`: none is configured.
    #[cfg(feature = "oidc")]
    pub oidc: Option<&'a crate::edge::oidc::Provider>,
}
