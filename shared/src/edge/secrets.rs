//! Secrets Manager, read by the functions that need a secret: at cold start the session's private
//! key and the OIDC client secret of the link and the reset; at their first message the SMTP URL
//! of the mail senders. Only they pass [`read`] in their `App`'s `Setup`, so only they link the
//! client.

use std::future::Future;
use std::pin::Pin;

/// The string values of the secrets `ids`, in their order: one client, built once, and the
/// calls one after another on its one connection.
pub fn read<'a>(
    sdk: &'a aws_config::SdkConfig,
    ids: Vec<String>,
) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
    Box::pin(async move {
        let mut config = aws_sdk_secretsmanager::config::Builder::from(sdk);
        // The benchmark's stand-in on loopback (it counts the calls made at cold start).
        if let Some(endpoint) = std::env::var("SECRETSMANAGER_ENDPOINT").ok().filter(|v| !v.is_empty()) {
            config = config.endpoint_url(endpoint);
        }
        let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
        let mut values = Vec::with_capacity(ids.len());
        for id in &ids {
            let value = client
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|e| format!("secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))?
                .secret_string
                .ok_or_else(|| format!("secret {id} has no string value"))?;
            values.push(value);
        }
        Ok(values)
    })
}
