//! Sending mail: the outbox's notices, invitations and confirmations go out through SMTP
//! (lettre) — Amazon SES's SMTP interface in AWS (`smtps://` or `smtp://…?tls=required` with
//! credentials in the URL), a local sink in development and tests (aiosmtpd on loopback).
//!
//! The server's certificate is checked against the system's roots (as the identity provider's
//! is), read when the first message goes out: most requests of a function that can send mail
//! send none, so its cold start reads no certificate store, and no root list is compiled in.

use std::sync::OnceLock;

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::usecase::Mailer;

/// The SMTP mailer as `App`'s `Setup` takes it.
pub fn smtp(url: &str, from: &str) -> Result<std::sync::Arc<dyn Mailer>, String> {
    Ok(std::sync::Arc::new(SmtpMailer::new(url, from)?))
}

pub struct SmtpMailer {
    url: String,
    /// Built at the first message (with TLS, that reads the system's roots).
    transport: OnceLock<Result<AsyncSmtpTransport<Tokio1Executor>, String>>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`: lettre's SMTP URL (`smtp://127.0.0.1:2525`, `smtps://user:pass@email-smtp…:465`,
    /// `smtp://user:pass@host:587/mail.example.ac.jp?tls=required`: a path is the EHLO name).
    /// It is read here as lettre reads it, so that a wrong URL fails the set-up (and the mail
    /// waits in the outbox) rather than every message: at the local runner's start, or in AWS at
    /// the first message, where the URL is read from its secret. Only the TLS set-up waits for the
    /// first message either way.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        check_url(url)?;
        let from = from.parse().map_err(|e| format!("MAIL_FROM {from:?}: {e}"))?;
        Ok(Self { url: url.to_owned(), transport: OnceLock::new(), from })
    }

    fn transport(&self) -> Result<&AsyncSmtpTransport<Tokio1Executor>, String> {
        let built = self.transport.get_or_init(|| {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)
                .map(|b| b.timeout(Some(std::time::Duration::from_secs(10))).build())
                .map_err(|e| format!("SMTP URL: {e}"))
        });
        built.as_ref().map_err(Clone::clone)
    }
}

/// What lettre's `from_url` accepts: a host, a port if any, and `smtp` (plain, or with
/// `tls=required` or `tls=opportunistic`) or `smtps`. The errors never show the URL: it carries
/// the SMTP credentials.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("SMTP URL: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("SMTP URL: no host".into());
    }
    let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    match (parsed.scheme(), tls.as_deref()) {
        ("smtp", None | Some("required" | "opportunistic")) | ("smtps", _) => Ok(()),
        ("smtp", Some(other)) => Err(format!("SMTP URL: tls={other:?} (required or opportunistic)")),
        (scheme, _) => Err(format!("SMTP URL: the scheme {scheme:?} is neither smtp nor smtps")),
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let transport = self.transport()?;
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| format!("message: {e}"))?;
        transport.send(message).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "ECCS <noreply@example.ac.jp>";

    #[test]
    fn a_wrong_url_is_refused_at_set_up_without_showing_it() {
        for url in [
            "https://user:s3cret@example.com/",
            "smtp://user:s3cret@example.com:not-a-port",
            "smtp://user:s3cret@example.com:587?tls=require",
            "smtps://user:s3cret@:465",
            "user:s3cret@example.com",
        ] {
            let Err(e) = SmtpMailer::new(url, FROM) else { panic!("accepted {url}") };
            assert!(e.starts_with("SMTP URL"), "{url}: {e}");
            assert!(!e.contains("s3cret"), "the credentials reached the message: {e}");
        }
    }

    #[test]
    fn the_urls_lettre_reads_are_accepted() {
        for url in [
            "smtp://127.0.0.1:2525",
            "SMTPS://user:s3cret@email-smtp.ap-northeast-1.amazonaws.com:465",
            "smtp://user:s3cret@relay.example.ac.jp:587/portal.example.ac.jp?tls=required",
            "smtp://relay.example.ac.jp?tls=opportunistic",
        ] {
            assert!(SmtpMailer::new(url, FROM).is_ok(), "{url}");
        }
        // No Debug for the mailer (its URL carries credentials), so no unwrap_err.
        let Err(e) = SmtpMailer::new("smtp://127.0.0.1:2525", "not an address") else { panic!("accepted") };
        assert!(e.starts_with("MAIL_FROM"), "{e}");
    }

    #[test]
    fn set_up_builds_no_transport_and_reads_no_roots() {
        let mailer = SmtpMailer::new("smtps://user:s3cret@127.0.0.1:465", FROM).unwrap();
        assert!(mailer.transport.get().is_none());
    }

    #[tokio::test]
    async fn the_first_message_builds_the_transport_once() {
        // Nothing listens on port 9 of loopback: the message fails at the connection.
        let mailer = SmtpMailer::new("smtp://127.0.0.1:9", FROM).unwrap();
        let e = mailer.send("a@example.ac.jp", "s", "b").await.unwrap_err();
        assert!(e.starts_with("SMTP:"), "{e}");
        let built = mailer.transport.get().expect("built at the first message");
        assert!(built.is_ok());
        let first: *const _ = built;
        assert!(mailer.send("a@example.ac.jp", "s", "b").await.is_err());
        assert!(std::ptr::eq(first, mailer.transport.get().unwrap()), "built again");
    }
}
