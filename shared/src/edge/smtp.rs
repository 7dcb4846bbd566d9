//! Sending mail: the outbox's notices, invitations and confirmations go out through SMTP
//! (lettre) — Amazon SES's SMTP interface in AWS (`smtps://` or `smtp://…?tls=required` with
//! credentials in the URL), a local sink in development and tests (aiosmtpd on loopback).

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::usecase::Mailer;

/// The SMTP mailer as `App`'s `Setup` takes it.
pub fn smtp(url: &str, from: &str) -> Result<std::sync::Arc<dyn Mailer>, String> {
    Ok(std::sync::Arc::new(SmtpMailer::new(url, from)?))
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`: lettre's SMTP URL (`smtp://127.0.0.1:2525`, `smtps://user:pass@email-smtp…:465`).
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = from.parse().map_err(|e| format!("MAIL_FROM {from:?}: {e}"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| format!("message: {e}"))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }
}
