//! Secrets Manager, read at cold start by the functions that need a secret (the session's
//! private key, the SMTP URL of the mail senders, the OIDC client secret of the link and the
//! reset). Only they pass [`read`] in their `App`'s `Setup`, so only they link the client.

use std::future::Future;
use std::pin::Pin;

/// The secret's string value.
pub fn read<'a>(
    sdk: &'a aws_config::SdkConfig,
    id: &'a str,
) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
    Box::pin(async move {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(sdk);
        // The benchmark's stand-in on loopback (it counts the calls made at cold start).
        if let Some(endpoint) = std::env::var("SECRETSMANAGER_ENDPOINT").ok().filter(|v| !v.is_empty()) {
            config = config.endpoint_url(endpoint);
        }
        aws_sdk_secretsmanager::Client::from_conf(config.build())
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| format!("secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?
            .secret_string
            .ok_or_else(|| format!("secret {id} has no string value"))
    })
}
