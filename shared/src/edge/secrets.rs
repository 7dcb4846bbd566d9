//! Secrets Manager, read by the functions that need a secret: at cold start the session's private
//! key; at their first use ([`Deferred`]) the SMTP URL of the mail senders and the OIDC client
//! secret of the link and the reset. Only they pass [`read`] in their `App`'s `Setup`, so only
//! they link the client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Reads Secrets Manager secrets' strings, in the order asked ([`read`]; the tests pass their
/// own). A function pointer: a function that is given none does not link the client.
pub type Reader = for<'a> fn(
    &'a aws_config::SdkConfig,
    Vec<String>,
) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>>;

/// How long a failed read (or a value that cannot be made from it) is answered again without
/// another read: an outage of Secrets Manager costs a run one read, not one per message.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// What is made from one secret that is read at its first use, not at cold start: the SMTP URL
/// (at the first message, [`crate::app`]'s mailer) and the OIDC client secret (at the first code
/// exchange). Most cold starts of those functions need neither (a page of services, a link's
/// status), and need not open a second connection, to Secrets Manager, beside DynamoDB's; the
/// first use in an execution environment pays that read instead. Kept once made. A failure is
/// kept for `retry_after` and answered again without a read.
pub struct Deferred<T> {
    sdk: aws_config::SdkConfig,
    id: String,
    read: Reader,
    make: Box<dyn Fn(String) -> Result<T, String> + Send + Sync>,
    value: tokio::sync::OnceCell<T>,
    /// The last failure and when.
    failed: Mutex<Option<(Instant, String)>>,
    retry_after: Duration,
}

impl<T> Deferred<T> {
    /// `make` turns the secret's string into the value; its error names no part of the secret.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        id: String,
        read: Reader,
        make: impl Fn(String) -> Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            sdk: sdk.clone(),
            id,
            read,
            make: Box::new(make),
            value: tokio::sync::OnceCell::new(),
            failed: Mutex::new(None),
            retry_after: RETRY_AFTER,
        }
    }

    /// Another wait after a failure than [`RETRY_AFTER`] (the tests').
    pub fn retrying_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }

    /// The value: made at the first call, then kept.
    pub async fn get(&self) -> Result<&T, String> {
        // The failure is checked by whoever holds the cell's permit: the messages a run sends at
        // the same time wait there for the first read, and each would read again after it failed.
        self.value
            .get_or_try_init(|| async {
                if let Some((_, e)) = self.recent_failure() {
                    return Err(e);
                }
                let read = (self.read)(&self.sdk, vec![self.id.clone()]).await;
                let made = read.and_then(|mut values| {
                    (self.make)(values.pop().ok_or_else(|| format!("secret {}: no value", self.id))?)
                });
                if let Err(e) = &made {
                    *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), e.clone()));
                }
                made
            })
            .await
    }

    /// How long a remembered failure is still answered without a read (`None`: no failure
    /// remembered, or the value is there): a caller can refuse early instead of failing later.
    pub fn retry_in(&self) -> Option<Duration> {
        if self.value.initialized() {
            return None;
        }
        self.recent_failure().map(|(left, _)| left)
    }

    /// The last failure and how long it is still answered, if it is more recent than `retry_after`.
    fn recent_failure(&self) -> Option<(Duration, String)> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        let (at, e) = failed.as_ref()?;
        let left = self.retry_after.checked_sub(at.elapsed()).filter(|d| !d.is_zero())?;
        Some((left, e.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static FLAKY: AtomicUsize = AtomicUsize::new(0);

    /// Counts its reads; the first one fails (Secrets Manager unreachable for a moment).
    fn flaky<'a>(
        _: &'a aws_config::SdkConfig,
        ids: Vec<String>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
        Box::pin(async move {
            match FLAKY.fetch_add(1, Ordering::SeqCst) {
                0 => Err("secret: unreachable".to_owned()),
                _ => Ok(ids.iter().map(|id| format!("value of {id}")).collect()),
            }
        })
    }

    static DOWN: AtomicUsize = AtomicUsize::new(0);

    /// Counts its reads, each of which fails after a wait (a call on the network would wait too:
    /// the other messages of a run are sent meanwhile).
    fn down<'a>(
        _: &'a aws_config::SdkConfig,
        _: Vec<String>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
        DOWN.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            tokio::task::yield_now().await;
            Err("secret: unreachable".to_owned())
        })
    }

    #[tokio::test]
    async fn a_deferred_secret_is_read_at_its_first_use_kept_and_a_failed_read_tried_again_later() {
        let sdk = aws_config::SdkConfig::builder().build();
        let made = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = made.clone();
        let value = Deferred::new(&sdk, "smtp-url".into(), flaky, move |v| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(v.to_uppercase())
        })
        .retrying_after(Duration::ZERO);
        assert_eq!(FLAKY.load(Ordering::SeqCst), 0, "nothing is read when it is built");
        assert_eq!(value.get().await, Err("secret: unreachable".to_owned()));
        assert_eq!(value.retry_in(), None, "no wait: nothing to refuse early");
        // Once the wait is over (none here), it is read again, made once, and kept.
        for _ in 0..3 {
            assert_eq!(value.get().await.map(String::as_str), Ok("VALUE OF SMTP-URL"));
        }
        assert_eq!((FLAKY.load(Ordering::SeqCst), made.load(Ordering::SeqCst)), (2, 1));
        assert_eq!(value.retry_in(), None, "made: nothing to wait for");

        // A value that cannot be made from what was read fails the same way, without the secret.
        let refused = Deferred::new(&sdk, "smtp-url".into(), flaky, |_| Err::<String, _>("not a URL".to_owned()));
        assert_eq!(refused.get().await, Err("not a URL".to_owned()));
    }

    #[tokio::test]
    async fn within_the_wait_a_failure_is_answered_without_another_read_even_to_eight_at_once() {
        // Eight at a time, as a run sends: they wait for the first read, and none reads again.
        let sdk = aws_config::SdkConfig::builder().build();
        let value = Deferred::new(&sdk, "smtp-url".into(), down, Ok).retrying_after(Duration::from_secs(3600));
        let at_once = futures::future::join_all((0..8).map(|_| value.get())).await;
        assert_eq!(at_once, vec![Err("secret: unreachable".to_owned()); 8]);
        let left = value.retry_in().expect("a failure is remembered");
        assert!(left > Duration::from_secs(3590) && left <= Duration::from_secs(3600), "{left:?}");
        for _ in 0..3 {
            assert_eq!(value.get().await, Err("secret: unreachable".to_owned()));
        }
        assert_eq!(DOWN.load(Ordering::SeqCst), 1);
    }
}
