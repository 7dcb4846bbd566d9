//! [`App`]: everything a function needs, built once at cold start and passed by reference.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};

use crate::config::{Config, KeySource, Schedules};
use crate::domain::time::Clock;
use crate::edge::auth::{Keys, TokenSettings};
use crate::edge::secrets::Deferred;
use crate::provision::{DirectoryTarget, Target};
use crate::store::Store;
use crate::usecase::schedule::RunSettings;
use crate::usecase::{Deps, Mailer};

/// Builds the mailer from the SMTP URL and the sender ([`crate::edge::smtp::smtp`]).
pub type MakeMailer = fn(&str, &str) -> Result<Arc<dyn Mailer>, String>;

/// What a function's cold start may do beyond reading its configuration, building the DynamoDB
/// client and parsing the public key: each is a function pointer, so a function that passes
/// `None` does not link the client behind it (the Secrets Manager SDK, the SMTP client).
#[derive(Clone, Copy, Default)]
pub struct Setup {
    /// For the session's private key, read at cold start, and the SMTP URL and the OIDC client
    /// secret, read at their first use ([`crate::edge::secrets::Deferred`]).
    pub secret: Option<crate::edge::secrets::Reader>,
    /// For the functions that send mail.
    pub mailer: Option<MakeMailer>,
    /// For the functions that link or reset through the identity verification provider.
    #[cfg(feature = "oidc")]
    pub oidc: Option<MakeProvider>,
}

/// Builds the relying party of the identity verification provider ([`crate::edge::oidc::Provider::make`]).
#[cfg(feature = "oidc")]
pub type MakeProvider = fn(
    &crate::config::OidcSettings,
    Option<Deferred<crate::config::Secret>>,
) -> Result<Arc<crate::edge::oidc::Provider>, String>;

impl Setup {
    /// Reads secrets, sends no mail (the session function).
    pub fn secrets() -> Self {
        Self { secret: Some(crate::edge::secrets::read), ..Self::default() }
    }

    /// Sends mail: the SMTP URL's secret is read at the first message ([`MailerFromSecret`]).
    #[allow(clippy::needless_update, reason = "without the oidc feature, no field is left to fill")]
    pub fn mail() -> Self {
        Self { secret: Some(crate::edge::secrets::read), mailer: Some(crate::edge::smtp::smtp), ..Self::default() }
    }

    /// [`Setup::mail`], and the identity verification provider (identity-link).
    #[cfg(feature = "oidc")]
    pub fn identity() -> Self {
        Self { oidc: Some(crate::edge::oidc::Provider::make), ..Self::mail() }
    }

    /// [`Setup::secrets`] and the identity verification provider, no mail (password-reset: it
    /// proves who the person is; account-password sets the new password and sends the notice).
    #[cfg(feature = "oidc")]
    pub fn identity_check() -> Self {
        Self { oidc: Some(crate::edge::oidc::Provider::make), ..Self::secrets() }
    }

    /// Everything: the local runner and the tests.
    fn all() -> Self {
        Self {
            secret: None,
            mailer: Some(crate::edge::smtp::smtp),
            #[cfg(feature = "oidc")]
            oidc: Some(crate::edge::oidc::Provider::make),
        }
    }

    /// The secrets the `ids` name, where they name one; no client is built when none does.
    async fn read_named<const N: usize>(
        &self,
        sdk: &aws_config::SdkConfig,
        ids: [Option<&str>; N],
    ) -> Result<[Option<String>; N], String> {
        let named: Vec<String> = ids.iter().flatten().map(|id| (*id).to_owned()).collect();
        let mut values = match named.first() {
            None => Vec::new(),
            Some(id) => {
                let read = self.reader_for(id)?;
                read(sdk, named).await?
            }
        }
        .into_iter();
        Ok(ids.map(|id| id.and_then(|_| values.next())))
    }

    /// What reads secret `id`: a function that reads no secrets, given one by its template entry,
    /// is refused, not left to ignore it.
    fn reader_for(&self, id: &str) -> Result<crate::edge::secrets::Reader, String> {
        self.secret.ok_or_else(|| format!("secret {id}: this function reads no secrets (its template entry names one)"))
    }
}

/// The mailer of a function whose SMTP URL is a secret, read at the first message
/// ([`Deferred`]). Until it is, [`Mailer::prepare`] fails, so no message counts an attempt (each
/// stays queued, due as it was, for the next run).
struct MailerFromSecret(Deferred<Arc<dyn Mailer>>);

impl MailerFromSecret {
    fn new(
        sdk: &aws_config::SdkConfig,
        id: String,
        read: crate::edge::secrets::Reader,
        make: MakeMailer,
        from: &str,
    ) -> Self {
        let from = from.to_owned();
        Self(Deferred::new(sdk, id, read, move |url| make(&url, &from)))
    }
}

#[async_trait::async_trait]
impl Mailer for MailerFromSecret {
    async fn prepare(&self) -> Result<(), String> {
        self.0.get().await.map(|_| ())
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        self.0.get().await?.send(to, subject, body).await
    }
}

pub struct App {
    pub store: Store,
    pub clock: Clock,
    pub keys: Keys,
    pub tokens: TokenSettings,
    pub mail_domain: String,
    /// Where provisioning goes (R-TGT-1).
    pub target: Arc<dyn Target>,
    /// Items one schedule run handles before it stops cleanly (R-SYNC-3); `None`: the deadline.
    pub item_budget: Option<usize>,
    /// The EventBridge schedules the ops function manages.
    pub schedules: Schedules,
    /// Where mail goes; `None`: it waits in the outbox.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// The portal's address, for the links in mail.
    pub portal_url: String,
    /// The CloudWatch namespace of the schedules' run metrics (R-OPS-2).
    pub metrics_namespace: Option<String>,
    /// The identity verification provider (R-CRED-4); `None`: none is configured.
    #[cfg(feature = "oidc")]
    pub oidc: Option<Arc<crate::edge::oidc::Provider>>,
}

impl App {
    /// The Lambda set-up: configuration from the environment, the DynamoDB client, the key —
    /// and what `setup` allows: the session's key read from Secrets Manager, while the DynamoDB
    /// warm-up ([`warm`]) runs (two connections to open, and a cold start waits for the slower
    /// instead of both); the mailer and the identity verification provider, whose secrets (the
    /// SMTP URL, the OIDC client secret) are read at their first use ([`Deferred`]).
    pub async fn from_env(setup: Setup) -> Result<Self, String> {
        let config = Config::from_env()?;
        let sdk = sdk_config()?;
        // DynamoDB's own limit per attempt: a transaction retried after its attempt timed out
        // carries the same client request token, which DynamoDB answers idempotently.
        let timeouts = limits().1.to_builder().operation_attempt_timeout(Duration::from_secs(4)).build();
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&sdk).timeout_config(timeouts);
        if let Some(endpoint) = &config.dynamodb_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let db = aws_sdk_dynamodb::Client::from_conf(builder.build());
        // The SMTP URL carries credentials: it comes from Secrets Manager, never the environment,
        // and is read at the first message, not here.
        let smtp_id = std::env::var("SMTP_URL_SECRET").ok().filter(|v| !v.is_empty());
        let mailer = match (smtp_id, setup.mailer) {
            (Some(id), Some(make)) => {
                let read = setup.reader_for(&id)?;
                let mailer = MailerFromSecret::new(&sdk, id, read, make, &config.mail_from);
                Some(Arc::new(mailer) as Arc<dyn Mailer>)
            }
            (Some(id), None) => {
                tracing::error!(secret = %id, "SMTP_URL_SECRET is set, but this function sends no mail: it is ignored");
                None
            }
            (None, _) => None,
        };
        // The OIDC client secret likewise, at the first code exchange (R-CRED-4).
        let oidc_secret = match config.oidc.as_ref().map(|o| &o.client_secret) {
            Some(crate::config::OidcSecret::Secret(id)) => {
                let read = setup.reader_for(id)?;
                // Tried again after 10 s: meanwhile a start is refused with a 503 to retry, not sent
                // to sign in at the provider for a callback that would fail.
                let deferred = Deferred::new(&sdk, id.clone(), read, |value| Ok(crate::config::Secret::new(value)));
                Some(deferred.retrying_after(Duration::from_secs(10)))
            }
            _ => None,
        };
        // Only these: a function in AWS generates no key (that code is not linked).
        let key_id = match &config.key_source {
            KeySource::Secret { id, .. } => Some(id.clone()),
            KeySource::PublicPem(_) => None,
            KeySource::File(_) | KeySource::Pem(_) => return Err("a key file or PEM is for the local runner".into()),
        };
        // ECCS_WARM_UP=off skips the warm-up (the benchmark measures the difference).
        let warm_up_on = std::env::var("ECCS_WARM_UP").as_deref() != Ok("off");
        let secrets = setup.read_named(&sdk, [key_id.as_deref()]);
        let warm_up = async {
            if warm_up_on {
                warm(&db, &config.tables.accounts).await;
            }
        };
        let (read, ()) = tokio::join!(secrets, warm_up);
        let [key] = read?;
        let keys = match (&config.key_source, key) {
            (KeySource::Secret { private: true, .. }, Some(pem)) => {
                let keys = Keys::from_private_pem(&pem)?;
                // The template gives every function the public key; the signer checks it is its own.
                if let Some(published) = crate::config::env_var("JWT_PUBLIC_KEY") {
                    keys.check_published(&published)?;
                }
                keys
            }
            (KeySource::Secret { private: false, .. }, Some(pem)) => Keys::from_public_pem_text(&pem)?,
            (KeySource::PublicPem(pem), _) => Keys::from_public_pem_text(pem)?,
            _ => return Err("the key's secret was not read".into()),
        };
        let mut app = Self::assemble(config, db, keys, Clock::system(), setup, oidc_secret);
        if let Some(mailer) = mailer {
            app.mailer = Some(mailer);
        }
        Ok(app)
    }

    /// The local runner's and the tests' set-up: an engine on loopback with fixed credentials.
    pub fn local(config: Config, clock: Clock) -> Result<Self, String> {
        let endpoint = config.dynamodb_endpoint.clone().ok_or("a local App needs an endpoint")?;
        let (retries, mut timeouts) = limits();
        if let Some(limit) = config.local_operation_timeout {
            timeouts = timeouts.to_builder().operation_timeout(limit).build();
        }
        let mut conf = aws_sdk_dynamodb::Config::builder()
            .retry_config(retries)
            .timeout_config(timeouts)
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "eccs-local"))
            .endpoint_url(endpoint);
        if let Some(interceptor) = &config.interceptor {
            conf.push_interceptor(interceptor.clone());
        }
        let db = aws_sdk_dynamodb::Client::from_conf(conf.build());
        let keys = load_keys(&config.key_source)?;
        Ok(Self::assemble(config, db, keys, clock, Setup::all(), None))
    }

    /// `oidc_secret` reads the OIDC client secret that the configuration names by its id.
    fn assemble(
        config: Config,
        db: aws_sdk_dynamodb::Client,
        keys: Keys,
        clock: Clock,
        setup: Setup,
        oidc_secret: Option<Deferred<crate::config::Secret>>,
    ) -> Self {
        let mailer = match (config.smtp_url.as_ref().map(|u| u.expose()), setup.mailer) {
            (Some(url), Some(make)) => match make(url, &config.mail_from) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::error!(error = %e, "mail is not configured; messages wait in the outbox");
                    None
                }
            },
            (Some(_), None) => {
                tracing::error!("an SMTP URL is set, but this function sends no mail: it is ignored");
                None
            }
            (None, _) => None,
        };
        #[cfg(feature = "oidc")]
        let oidc = match (config.oidc.as_ref(), setup.oidc) {
            (Some(settings), Some(make)) => match make(settings, oidc_secret) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(error = %e, "identity verification provider not configured");
                    None
                }
            },
            _ => None,
        };
        #[cfg(not(feature = "oidc"))]
        drop(oidc_secret);
        let store = Store::new(db, config.tables);
        let target: Arc<dyn Target> = Arc::new(DirectoryTarget::new(&store));
        Self {
            store,
            clock,
            keys,
            tokens: config.tokens,
            mail_domain: config.mail_domain,
            target,
            item_budget: config.item_budget,
            schedules: config.schedules,
            mailer,
            portal_url: config.portal_url,
            metrics_namespace: config.metrics_namespace,
            #[cfg(feature = "oidc")]
            oidc,
        }
    }

    /// What the use cases work with.
    pub fn deps(&self) -> Deps<'_> {
        Deps {
            store: &self.store,
            target: self.target.as_ref(),
            mailer: self.mailer.as_ref(),
            clock: &self.clock,
            keys: &self.keys,
            tokens: &self.tokens,
            mail_domain: &self.mail_domain,
            portal_url: &self.portal_url,
            #[cfg(feature = "oidc")]
            oidc: self.oidc.as_deref(),
        }
    }

    /// What the schedules need beyond [`App::deps`].
    pub fn run_settings(&self) -> RunSettings {
        RunSettings { item_budget: self.item_budget, metrics_namespace: self.metrics_namespace.clone() }
    }

    /// A request's context, the clock read once.
    pub fn ctx(&self, req: &lambda_http::Request) -> crate::Ctx {
        crate::Ctx::at(self.clock.now(), req)
    }

    /// Replaces the provisioning target (tests plug in one that refuses chosen accounts).
    pub fn with_target(mut self, target: Arc<dyn Target>) -> Self {
        self.target = target;
        self
    }
}

/// Opens the DynamoDB connection during init, so the first request does not pay for it
/// (STYLE: the TLS handshake costs ~0.7 s at 128 MB). The item read does not exist.
async fn warm(db: &aws_sdk_dynamodb::Client, table: &str) {
    let _ = db.get_item().table_name(table).key("pk", crate::store::s("warm-up#")).send().await;
}

/// Every SDK client's limits, in one place: a stalled connection or a slow call ends in a 503
/// `unavailable` well inside the Lambda timeout (the API functions have 10 s), instead of waiting
/// for it. Standard retries with backoff, three attempts; 1 s to connect, 8 s for the whole call.
/// In AWS, DynamoDB also limits one attempt ([`App::from_env`]); the local engines do not answer
/// a retried transaction idempotently, so there a slow attempt is waited for instead of retried.
pub fn limits() -> (RetryConfig, TimeoutConfig) {
    (
        RetryConfig::standard().with_max_attempts(3),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_timeout(Duration::from_secs(8))
            .build(),
    )
}

/// The roots of Amazon Trust Services, which sign every AWS endpoint these clients call.
const AMAZON_ROOTS: &str = include_str!("edge/amazon-trust-services.pem");

/// The configuration every production SDK client (DynamoDB, Secrets Manager, Scheduler) is built
/// from, in one place:
/// - the Lambda's region and credentials from its environment: what aws-config's default chain
///   finds first in Lambda, without linking the rest of the chain (profile files, STS, IMDS, the
///   container endpoint: about 0.4 MB of every function) or reading any file at cold start;
/// - the SDK's HTTPS client trusting Amazon's roots alone ([`AMAZON_ROOTS`]): the default one
///   reads and parses the system's whole store at cold start (on Debian 290 files, most of a
///   function's start-up), and a certificate from any other authority is refused;
/// - the [`limits`].
pub fn sdk_config() -> Result<aws_config::SdkConfig, String> {
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .ok_or("AWS_REGION is not set")?;
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let (retries, timeouts) = limits();
    Ok(aws_config::SdkConfig::builder()
        .http_client(amazon_https_client()?)
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
        .retry_config(retries)
        .timeout_config(timeouts)
        .build())
}

fn amazon_https_client() -> Result<aws_sdk_dynamodb::config::SharedHttpClient, String> {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let roots = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_ROOTS.as_bytes());
    let context = TlsContext::builder().with_trust_store(roots).build().map_err(|e| format!("TLS: {e}"))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

fn load_keys(source: &KeySource) -> Result<Keys, String> {
    match source {
        KeySource::File(path) => Keys::load_or_generate(path),
        KeySource::Pem(pem) => Keys::from_private_pem(pem.expose()),
        KeySource::PublicPem(pem) => Keys::from_public_pem_text(pem),
        KeySource::Secret { id, .. } => Err(format!("secret {id} needs App::from_env")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in reader: each secret's value is its id in capitals; "missing" is not there.
    fn capitals<'a>(
        _: &'a aws_config::SdkConfig,
        ids: Vec<String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
        ASKED.lock().unwrap().push(ids.clone());
        Box::pin(async move {
            ids.iter()
                .map(|id| if id == "missing" { Err(format!("secret {id}: not found")) } else { Ok(id.to_uppercase()) })
                .collect()
        })
    }

    static READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// Counts its reads; each secret's value is an SMTP URL naming it.
    fn smtp_urls<'a>(
        _: &'a aws_config::SdkConfig,
        ids: Vec<String>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
        READS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move { Ok(ids.iter().map(|id| format!("smtp://{id}:2525")).collect()) })
    }

    /// A mailer that refuses every message, naming the URL and sender it was made with (what the
    /// test checks).
    struct Echo(String);

    #[async_trait::async_trait]
    impl Mailer for Echo {
        async fn send(&self, to: &str, _: &str, _: &str) -> Result<(), String> {
            Err(format!("{} to {to}", self.0))
        }
    }

    fn echo(url: &str, from: &str) -> Result<Arc<dyn Mailer>, String> {
        Ok(Arc::new(Echo(format!("{url} from {from}"))))
    }

    #[tokio::test]
    async fn the_smtp_url_is_read_at_the_first_message_and_kept() {
        // When it is read, kept and read again after a failure: secrets::Deferred's tests.
        let reads = || READS.load(std::sync::atomic::Ordering::SeqCst);
        let sdk = aws_config::SdkConfig::builder().build();
        let mailer = MailerFromSecret::new(&sdk, "mail-host".into(), smtp_urls, echo, "ECCS <noreply@example.jp>");
        assert_eq!(reads(), 0, "nothing is read when it is built");
        assert_eq!(mailer.prepare().await, Ok(()));
        let sent = "smtp://mail-host:2525 from ECCS <noreply@example.jp>";
        assert_eq!(mailer.send("a@example.jp", "s", "b").await, Err(format!("{sent} to a@example.jp")));
        assert_eq!(mailer.send("c@example.jp", "s", "b").await, Err(format!("{sent} to c@example.jp")));
        assert_eq!(reads(), 1);
    }

    /// Notes every id it is asked for, in order, one list per call.
    static ASKED: std::sync::Mutex<Vec<Vec<String>>> = std::sync::Mutex::new(Vec::new());

    #[tokio::test]
    async fn the_named_secrets_are_read_in_one_go_and_given_back_in_their_places() {
        let sdk = aws_config::SdkConfig::builder().build();
        let setup = Setup { secret: Some(capitals), ..Setup::default() };
        let read = setup.read_named(&sdk, [Some("oidc"), None, Some("key")]).await.unwrap();
        assert_eq!(read, [Some("OIDC".to_owned()), None, Some("KEY".to_owned())]);
        assert_eq!(*ASKED.lock().unwrap(), [vec!["oidc".to_owned(), "key".to_owned()]], "one call, in order");
        assert_eq!(setup.read_named(&sdk, [None, None, None]).await.unwrap(), [None, None, None]);
        assert_eq!(ASKED.lock().unwrap().len(), 1, "nothing named: no call");
        // One secret that is not there fails the cold start, naming it (and no value).
        let e = setup.read_named(&sdk, [Some("smtp"), Some("missing")]).await.unwrap_err();
        assert!(e.contains("missing") && !e.contains("SMTP"), "{e}");
        // A function that reads no secrets, given one by its template entry: refused, not ignored.
        let e = Setup::default().read_named(&sdk, [None, Some("smtp")]).await.unwrap_err();
        assert!(e.contains("smtp") && e.contains("reads no secrets"), "{e}");
        // Nothing named: nothing asked, even of a function that reads none.
        assert_eq!(Setup::default().read_named(&sdk, [None]).await.unwrap(), [None]);
    }

    #[test]
    fn r_ops_the_sdk_clients_trust_the_five_amazon_roots_and_build_from_the_environment() {
        // What the SDK's connector does with them when it first connects (it panics on a PEM it
        // cannot read): every certificate parses and becomes a trust anchor.
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(AMAZON_ROOTS.as_bytes()).collect::<Result<_, _>>().unwrap();
        assert_eq!(certs.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        for cert in certs {
            store.add(cert).unwrap();
        }
        assert_eq!(store.len(), 5);
        assert!(store.subjects().iter().any(|s| s.as_ref().windows(16).any(|w| w == b"Amazon Root CA 1")));
        assert!(amazon_https_client().is_ok());
        // Without AWS_REGION (this test sets no environment), no configuration: never a guess.
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            assert!(sdk_config().is_err());
        }
        let (retries, timeouts) = limits();
        assert_eq!(retries.max_attempts(), 3);
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(1)));
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(8)));
    }
}
