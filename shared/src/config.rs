//! Configuration read once at cold start from the environment (names below), or built in code by
//! the local runner and the tests.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `ACCOUNTS_TABLE`, `CHANGES_TABLE`, `ADDRESSES_TABLE`, `APPLICATIONS_TABLE`, `AUDIT_TABLE`, `SETTINGS_TABLE`, `RUNS_TABLE`, `LOGIN_ATTEMPTS_TABLE`, `DIRECTORY_TABLE`, `OUTBOX_TABLE`, `SERVICES_TABLE`, `SIGN_INS_TABLE` | table names | the local names (`accounts`, …) |
//! | `SMTP_URL` | where mail goes (lettre's URL: `smtps://user:pass@email-smtp…:465`, `smtp://127.0.0.1:2525`); none: mail waits in the outbox | |
//! | `MAIL_FROM` | the sender of notices and invitations | `ECCS <noreply@ecc.u-tokyo.ac.jp>` |
//! | `PORTAL_URL` | the portal's address, for the links in mail | `JWT_ISSUER` |
//! | `DYNAMODB_ENDPOINT` | another DynamoDB endpoint (DynamoDB Local, the local runner's engine) | AWS |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | token issuer URL and audience | `http://127.0.0.1:3000`, `eccs` |
//! | `JWT_PRIVATE_KEY_SECRET` | Secrets Manager id of the private key PEM (the session function) | |
//! | `JWT_PUBLIC_KEY` | the public key PEM, from a template parameter (every function but session): a public key is not a secret, and reading it costs no call at cold start | |
//! | `MAIL_DOMAIN` | the cloud-mail domain (R-CMA-1) | `g.ecc.u-tokyo.ac.jp` |
//! | `SYNC_ITEM_BUDGET` | items one schedule run handles before it stops cleanly (R-SYNC-3) | none: the deadline |
//! | `SCHEDULE_NAMES`, `SCHEDULE_GROUP` | the EventBridge schedules the ops function manages | `eccs-sync-hourly,eccs-sweep-daily`, `default` |
//! | `METRICS_NAMESPACE` | the CloudWatch namespace of the schedules' run metrics (EMF, R-OPS-2); none: no metrics line | |
//! | `ECCS_WARM_UP` | `off` skips the DynamoDB call made at cold start to open the connection | on |
//! | `SCHEDULER_ENDPOINT` | another EventBridge Scheduler endpoint (moto in tests, the benchmark's stand-in) | AWS |
//! | `OIDC_ISSUER`, `OIDC_CLIENT_ID` | the identity verification provider (R-CRED-4): its issuer URL and this service's client id; none: the link and the reset answer that no provider is configured | |
//! | `OIDC_CLIENT_SECRET_SECRET` | Secrets Manager id of the client secret (the identity-link and password-reset functions) | |
//! | `OIDC_CLIENT_SECRET` | the client secret itself (local only) | |

use std::path::PathBuf;

use crate::edge::auth::TokenSettings;

pub const DEFAULT_MAIL_DOMAIN: &str = "g.ecc.u-tokyo.ac.jp";

/// The DynamoDB tables. Each is declared once, in `infra/template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub accounts: String,
    pub changes: String,
    pub addresses: String,
    pub applications: String,
    pub audit: String,
    pub settings: String,
    pub runs: String,
    pub login_attempts: String,
    pub directory: String,
    pub outbox: String,
    pub services: String,
    pub sign_ins: String,
}

impl Tables {
    /// `(environment variable, local name)` for every table, in declaration order.
    pub const ALL: [(&'static str, &'static str); 12] = [
        ("ACCOUNTS_TABLE", "accounts"),
        ("CHANGES_TABLE", "changes"),
        ("ADDRESSES_TABLE", "addresses"),
        ("APPLICATIONS_TABLE", "applications"),
        ("AUDIT_TABLE", "audit"),
        ("SETTINGS_TABLE", "settings"),
        ("RUNS_TABLE", "runs"),
        ("LOGIN_ATTEMPTS_TABLE", "login-attempts"),
        ("DIRECTORY_TABLE", "directory"),
        ("OUTBOX_TABLE", "outbox"),
        ("SERVICES_TABLE", "services"),
        ("SIGN_INS_TABLE", "sign-ins"),
    ];

    /// The names the local runner gives the tables.
    pub fn local() -> Self {
        Self::from_lookup(|_| None)
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// The local names with a prefix: several services (tests) sharing one DynamoDB endpoint.
    pub fn with_prefix(prefix: &str) -> Self {
        Self::from_lookup(|var| Self::ALL.iter().find(|(v, _)| *v == var).map(|(_, local)| format!("{prefix}{local}")))
    }

    /// The name in use for the table whose local name is `local`.
    pub fn name_of(&self, local: &str) -> Option<&str> {
        let names = [
            &self.accounts,
            &self.changes,
            &self.addresses,
            &self.applications,
            &self.audit,
            &self.settings,
            &self.runs,
            &self.login_attempts,
            &self.directory,
            &self.outbox,
            &self.services,
            &self.sign_ins,
        ];
        Self::ALL.iter().zip(names).find(|((_, l), _)| *l == local).map(|(_, n)| n.as_str())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |i: usize| {
            let (var, local) = Self::ALL.get(i).copied().unwrap_or(("", ""));
            lookup(var).unwrap_or_else(|| local.to_owned())
        };
        Self {
            accounts: get(0),
            changes: get(1),
            addresses: get(2),
            applications: get(3),
            audit: get(4),
            settings: get(5),
            runs: get(6),
            login_attempts: get(7),
            directory: get(8),
            outbox: get(9),
            services: get(10),
            sign_ins: get(11),
        }
    }
}

/// A credential held in configuration (the SMTP URL with its password, the OIDC client secret,
/// a private key's PEM): its `Debug` never shows it, so that a `?config` in a log line leaks
/// nothing. The value is read only through [`Secret::expose`], where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that uses it (a connection, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// R-CRED-4: the identity verification provider this service is a client of.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer URL; discovery is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: OidcSecret,
}

/// Where the client secret comes from.
#[derive(Debug, Clone)]
pub enum OidcSecret {
    /// Given directly (the local runner, tests).
    Value(Secret),
    /// A Secrets Manager secret's id (AWS), read at the first code exchange.
    Secret(String),
}

/// Where the JWT key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A private key PEM file, generated once if missing (local).
    File(PathBuf),
    /// A Secrets Manager secret holding a PEM; `private` when it is the signing key.
    Secret { id: String, private: bool },
    /// A private key PEM given directly (the local runner's memory engine, tests).
    Pem(Secret),
    /// A public key PEM from the environment: verifies only.
    PublicPem(String),
}

/// The EventBridge schedules (their stable names from the template) the ops function manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedules {
    pub endpoint: Option<String>,
    pub group: String,
    pub names: Vec<String>,
}

impl Schedules {
    /// From `SCHEDULER_ENDPOINT`, `SCHEDULE_GROUP` and `SCHEDULE_NAMES`: all the ops function
    /// reads at cold start (it reads no table and verifies no token).
    pub fn from_env() -> Self {
        Self {
            endpoint: env_var("SCHEDULER_ENDPOINT"),
            group: env_var("SCHEDULE_GROUP").unwrap_or_else(|| "default".into()),
            names: env_var("SCHEDULE_NAMES")
                .map(|v| v.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect())
                .unwrap_or_else(|| Self::default().names),
        }
    }
}

impl Default for Schedules {
    fn default() -> Self {
        Self {
            endpoint: None,
            group: "default".into(),
            names: vec!["eccs-sync-hourly".into(), "eccs-sweep-daily".into()],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub tables: Tables,
    pub dynamodb_endpoint: Option<String>,
    pub tokens: TokenSettings,
    pub key_source: KeySource,
    pub mail_domain: String,
    pub item_budget: Option<usize>,
    pub schedules: Schedules,
    /// Counts every DynamoDB call (local runner, benchmark and tests only).
    pub interceptor: Option<aws_sdk_dynamodb::config::SharedInterceptor>,
    /// The local runner's limit for one DynamoDB call, in place of [`crate::app::limits`]'s 8 s:
    /// for an external engine that many tests share and that answers one request at a time
    /// (moto_server in the test command). `None` in AWS and on the embedded engine.
    pub local_operation_timeout: Option<std::time::Duration>,
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    /// The portal's address, for the links in mail.
    pub portal_url: String,
    /// Where the schedules' run metrics go (R-OPS-2); `None`: none are written.
    pub metrics_namespace: Option<String>,
    /// The identity verification provider (R-CRED-4); `None`: none is configured.
    pub oidc: Option<OidcSettings>,
}

pub(crate) fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// What a function that only serves the key needs (well-known): the token settings and the
/// public key, from the environment alone — no client, no call.
pub fn published_from_env() -> Result<(crate::edge::auth::PublicKey, TokenSettings), String> {
    let pem = env_var("JWT_PUBLIC_KEY").ok_or("set JWT_PUBLIC_KEY")?;
    let tokens = TokenSettings {
        issuer: env_var("JWT_ISSUER").unwrap_or_else(|| "http://127.0.0.1:3000".into()),
        audience: env_var("JWT_AUDIENCE").unwrap_or_else(|| "eccs".into()),
    };
    Ok((crate::edge::auth::PublicKey::from_pem_text(&pem)?, tokens))
}

pub const DEFAULT_MAIL_FROM: &str = "ECCS <noreply@ecc.u-tokyo.ac.jp>";

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let var = env_var;
        let key_source = if let Some(id) = var("JWT_PRIVATE_KEY_SECRET") {
            KeySource::Secret { id, private: true }
        } else if let Some(pem) = var("JWT_PUBLIC_KEY") {
            KeySource::PublicPem(pem)
        } else {
            return Err("set JWT_PRIVATE_KEY_SECRET or JWT_PUBLIC_KEY".into());
        };
        Ok(Self {
            tables: Tables::from_env(),
            dynamodb_endpoint: var("DYNAMODB_ENDPOINT"),
            tokens: TokenSettings {
                issuer: var("JWT_ISSUER").unwrap_or_else(|| "http://127.0.0.1:3000".into()),
                audience: var("JWT_AUDIENCE").unwrap_or_else(|| "eccs".into()),
            },
            key_source,
            mail_domain: var("MAIL_DOMAIN").unwrap_or_else(|| DEFAULT_MAIL_DOMAIN.into()),
            item_budget: var("SYNC_ITEM_BUDGET").and_then(|v| v.parse().ok()),
            schedules: Schedules::from_env(),
            interceptor: None,
            local_operation_timeout: None,
            smtp_url: var("SMTP_URL").map(Secret::from),
            mail_from: var("MAIL_FROM").unwrap_or_else(|| DEFAULT_MAIL_FROM.into()),
            portal_url: var("PORTAL_URL")
                .or_else(|| var("JWT_ISSUER"))
                .unwrap_or_else(|| "http://127.0.0.1:3000".into()),
            metrics_namespace: var("METRICS_NAMESPACE"),
            oidc: match (var("OIDC_ISSUER"), var("OIDC_CLIENT_ID")) {
                (Some(issuer), Some(client_id)) => Some(OidcSettings {
                    issuer,
                    client_id,
                    client_secret: match var("OIDC_CLIENT_SECRET_SECRET") {
                        Some(id) => OidcSecret::Secret(id),
                        None => OidcSecret::Value(Secret::new(var("OIDC_CLIENT_SECRET").unwrap_or_default())),
                    },
                }),
                _ => None,
            },
        })
    }

    /// The local runner's configuration for an engine at `endpoint`.
    pub fn local(endpoint: &str, issuer: &str, key_source: KeySource) -> Self {
        Self {
            tables: Tables::local(),
            dynamodb_endpoint: Some(endpoint.to_owned()),
            tokens: TokenSettings { issuer: issuer.to_owned(), audience: "eccs".into() },
            key_source,
            mail_domain: DEFAULT_MAIL_DOMAIN.into(),
            item_budget: None,
            schedules: Schedules::default(),
            interceptor: None,
            local_operation_timeout: None,
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.into(),
            portal_url: issuer.to_owned(),
            metrics_namespace: None,
            oidc: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_printed_for_debugging_shows_no_credential() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n";
        let mut config = Config::local("http://127.0.0.1:8000", "http://127.0.0.1:3000", KeySource::Pem(pem.into()));
        config.smtp_url = Some(Secret::new("smtps://mailer:Hunter2-pass@email-smtp.example:465"));
        config.oidc = Some(OidcSettings {
            issuer: "https://idp.example".into(),
            client_id: "eccs".into(),
            client_secret: OidcSecret::Value(Secret::new("oidc-client-s3cret")),
        });
        let shown = format!("{config:?} {config:#?}");
        for credential in ["Hunter2-pass", "mailer", "MIIEvQIBADANBg", "PRIVATE KEY", "oidc-client-s3cret"] {
            assert!(!shown.contains(credential), "{credential} shown in {shown}");
        }
        // What is not a credential is still there to debug with.
        assert!(shown.contains("https://idp.example") && shown.contains("http://127.0.0.1:8000"), "{shown}");
        assert!(shown.contains("Secret(redacted)"), "{shown}");
        // The value is where it is used.
        assert_eq!(
            config.smtp_url.as_ref().map(Secret::expose),
            Some("smtps://mailer:Hunter2-pass@email-smtp.example:465")
        );
        assert!(matches!(&config.key_source, KeySource::Pem(p) if p.expose() == pem));
    }
}
