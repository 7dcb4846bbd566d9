//! R-CRED-4: this service as an OpenID Connect relying party of the identity verification
//! provider, with `openidconnect`: discovery (the provider's metadata and JWKS, kept for ten
//! minutes), the authorization request (code flow, PKCE S256, `state`, `nonce`), and the
//! callback's code exchange with the ID token verified — signature against the provider's
//! JWKS, issuer, audience (our client id), expiry and nonce. What the flow must remember between
//! the two (the PKCE verifier, the nonce) the store keeps, under the hash of `state`.
//!
//! HTTP goes through [`Http`]: hyper-util over hyper-rustls, the SDK's own stack (rustls with
//! aws-lc-rs, the system's roots, read at the first request), with timeouts, a size limit, and no redirect followed (a
//! provider's redirect is not followed by a back-channel call: SSRF).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, TokenResponse,
};
use tokio::sync::RwLock;

use crate::config::{OidcSecret, Secret};
use crate::edge::secrets::Deferred;
use crate::error::ApiError;

/// How long discovery's answer (metadata and keys) is used before it is fetched again.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// Who signed in at the provider, from a verified ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
}

/// An authorization request: the URL to send the browser to, and what the callback needs.
pub struct Request {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The client secret: given (the local runner, the tests), or a Secrets Manager secret read at
/// the first code exchange, the only call that sends it: the status and the start never need it,
/// so a cold start makes no call to Secrets Manager.
pub enum ClientSecretOf {
    Given(ClientSecret),
    Read(Box<Deferred<Secret>>),
}

pub struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecretOf,
    http: Http,
    metadata: RwLock<Option<(Instant, Arc<CoreProviderMetadata>)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("issuer", &self.issuer.as_str()).finish()
    }
}

impl Provider {
    pub fn new(issuer: &str, client_id: &str, client_secret: ClientSecretOf) -> Result<Self, String> {
        if !allowed_url(issuer) {
            return Err(format!("OIDC issuer {issuer:?}: https only (plain http on loopback alone, for tests)"));
        }
        let http = Http::new();
        Ok(Self {
            // Exactly as configured: discovery compares it with the provider's own, string for string.
            issuer: IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("OIDC issuer {issuer:?}: {e}"))?,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret,
            http,
            metadata: RwLock::new(None),
        })
    }

    /// From configuration, as `App`'s `Setup` takes it: `deferred` reads the secret that
    /// configuration names ([`OidcSecret::Secret`]).
    pub fn make(
        settings: &crate::config::OidcSettings,
        deferred: Option<Deferred<Secret>>,
    ) -> Result<Arc<Self>, String> {
        let secret = match (&settings.client_secret, deferred) {
            (OidcSecret::Value(v), _) => ClientSecretOf::Given(ClientSecret::new(v.expose().to_owned())),
            (OidcSecret::Secret(_), Some(read)) => ClientSecretOf::Read(Box::new(read)),
            (OidcSecret::Secret(id), None) => return Err(format!("the OIDC client secret {id}: nothing reads it")),
        };
        Ok(Arc::new(Self::new(&settings.issuer, &settings.client_id, secret)?))
    }

    /// The client secret, for the token endpoint. One that cannot be read is a 503 the person
    /// may retry (from the start: the flow's `state` is used).
    async fn client_secret(&self) -> Result<ClientSecret, ApiError> {
        match &self.client_secret {
            ClientSecretOf::Given(secret) => Ok(secret.clone()),
            ClientSecretOf::Read(deferred) => match deferred.get().await {
                Ok(secret) => Ok(ClientSecret::new(secret.expose().to_owned())),
                Err(e) => {
                    tracing::error!(error = %e, "the OIDC client secret could not be read");
                    Err(unreadable(deferred.retry_in()))
                }
            },
        }
    }

    /// While the secret is known to be unreadable, a start is refused at once: the person would
    /// sign in at the provider only to be refused at the callback.
    fn refuse_while_unreadable(&self) -> Result<(), ApiError> {
        match &self.client_secret {
            ClientSecretOf::Read(deferred) => deferred.retry_in().map_or(Ok(()), |left| Err(unreadable(Some(left)))),
            ClientSecretOf::Given(_) => Ok(()),
        }
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// The provider's metadata and keys: discovered, then kept for [`METADATA_TTL`]. A provider
    /// that cannot be reached is a 503 the person may retry.
    async fn metadata(&self, fresh: bool) -> Result<Arc<CoreProviderMetadata>, ApiError> {
        if !fresh
            && let Some((at, m)) = self.metadata.read().await.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let discovered = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await.map_err(|e| {
            tracing::warn!(issuer = %self.issuer.as_str(), error = %e, "identity provider discovery failed");
            ApiError::ServiceUnavailable { retry_after: 5 }
        })?;
        let m = Arc::new(discovered);
        *self.metadata.write().await = Some((Instant::now(), m.clone()));
        Ok(m)
    }

    /// The client for `metadata`; `secret` only where it is sent (the code exchange): the
    /// authorization request carries none.
    fn client(
        &self,
        metadata: &CoreProviderMetadata,
        redirect: &str,
        secret: Option<ClientSecret>,
    ) -> Result<ConfiguredClient, ApiError> {
        let redirect =
            RedirectUrl::new(redirect.to_owned()).map_err(|e| ApiError::Internal(format!("redirect: {e}")))?;
        Ok(CoreClient::from_provider_metadata(metadata.clone(), self.client_id.clone(), secret)
            .set_redirect_uri(redirect))
    }

    /// The authorization request for a callback at `redirect`.
    pub async fn begin(&self, redirect: &str) -> Result<Request, ApiError> {
        self.refuse_while_unreadable()?;
        let metadata = self.metadata(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client(&metadata, redirect, None)?
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            // A fresh sign-in, whoever is signed in at the provider in this browser (a shared PC).
            .add_prompt(openidconnect::core::CoreAuthPrompt::Login)
            .url();
        Ok(Request {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// The callback: exchanges `code` (with the PKCE verifier) at the token endpoint and verifies
    /// the ID token. Keys are fetched again once when the token names a key not yet known (the
    /// provider rotated its keys).
    pub async fn finish(
        &self,
        redirect: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Identity, ApiError> {
        let (metadata, secret) = tokio::try_join!(self.metadata(false), self.client_secret())?;
        let client = self.client(&metadata, redirect, Some(secret.clone()))?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ApiError::Internal(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "identity provider refused the code");
                ApiError::IdentityRefused { reason: "code_refused" }
            })?;
        let id_token = response.id_token().ok_or(ApiError::IdentityRefused { reason: "no_id_token" })?;
        match verify(&client.id_token_verifier(), id_token, nonce) {
            Err(_) => {
                // Perhaps a key we have not seen: once more with the provider's current keys.
                let fresh = self.metadata(true).await?;
                verify(&self.client(&fresh, redirect, Some(secret))?.id_token_verifier(), id_token, nonce)
            }
            ok => ok,
        }
    }
}

/// The 503 of an unreadable client secret: retry when the failed read is tried again (`left`;
/// in at least a second).
fn unreadable(left: Option<Duration>) -> ApiError {
    ApiError::ServiceUnavailable { retry_after: left.map_or(1, |d| d.as_secs_f64().ceil() as u64).max(1) }
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// The relying party's HTTP client (openidconnect's `AsyncHttpClient`). It is built at its first
/// request, not at cold start: reading the system's roots (on Debian 290 files, about 100 ms) is
/// most of a function's init, and most calls of identity-link and password-reset (the status, a
/// start without a provider) never reach the provider.
pub struct Http {
    client: std::sync::OnceLock<Result<HttpsClient, String>>,
}

/// What went wrong with a request to the provider (logged, never shown).
#[derive(Debug)]
pub struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// HTTPS, or plain HTTP to a loopback address (the tests' provider).
fn allowed_url(url: &str) -> bool {
    url.starts_with("https://")
        || ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]:"]
            .iter()
            .any(|p| url.starts_with(p))
}

/// Per request, and for a whole answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// A provider's metadata, keys or token answer is a few KiB.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

impl Http {
    fn new() -> Self {
        Self { client: std::sync::OnceLock::new() }
    }

    fn client(&self) -> Result<&HttpsClient, HttpError> {
        self.client.get_or_init(Self::build).as_ref().map_err(|e| HttpError(e.clone()))
    }

    fn build() -> Result<HttpsClient, String> {
        let mut connect = hyper_util::client::legacy::connect::HttpConnector::new();
        connect.set_connect_timeout(Some(Duration::from_secs(2)));
        connect.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .map_err(|e| format!("TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connect);
        Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
    }

    async fn send(&self, request: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, HttpError> {
        use http_body_util::BodyExt;
        // The token endpoint gets the client secret and the code: never in clear text.
        if !allowed_url(&request.uri().to_string()) {
            return Err(HttpError(format!("{}: https only", request.uri())));
        }
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, http_body_util::Full::new(bytes::Bytes::from(body)));
        let work = async {
            let response = self.client()?.request(request).await.map_err(|e| HttpError(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| HttpError(e.to_string()))?
                .to_bytes();
            Ok(http::Response::from_parts(parts, body.to_vec()))
        };
        tokio::time::timeout(HTTP_TIMEOUT, work).await.map_err(|_| HttpError("timed out".into()))?
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

type ConfiguredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Verifies an ID token: signature (the verifier's keys), issuer, audience, expiry, nonce.
pub fn verify(verifier: &CoreIdTokenVerifier<'_>, token: &CoreIdToken, nonce: &str) -> Result<Identity, ApiError> {
    let claims = token.claims(verifier, &Nonce::new(nonce.to_owned())).map_err(|e| {
        tracing::warn!(error = %e, "ID token refused");
        ApiError::IdentityRefused { reason: "id_token_invalid" }
    })?;
    Ok(Identity { issuer: claims.issuer().as_str().to_owned(), subject: claims.subject().as_str().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::CoreJsonWebKeySet;
    use serde_json::json;
    use std::str::FromStr;

    const ISSUER: &str = "https://idp.example.jp";
    const CLIENT: &str = "eccs";

    struct Signer {
        pem: String,
        kid: String,
        jwks: serde_json::Value,
    }

    fn signer() -> Signer {
        let pem = crate::edge::auth::Keys::generate_pem().unwrap();
        let keys = crate::edge::auth::Keys::from_private_pem(&pem).unwrap();
        Signer { pem, kid: keys.kid().to_owned(), jwks: keys.jwks() }
    }

    fn token(s: &Signer, claims: serde_json::Value) -> CoreIdToken {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(s.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(s.pem.as_bytes()).unwrap();
        CoreIdToken::from_str(&jsonwebtoken::encode(&header, &claims, &key).unwrap()).unwrap()
    }

    fn claims(iss: &str, aud: &str, exp_in: i64, nonce: &str) -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        json!({ "iss": iss, "aud": aud, "sub": "person-1", "iat": now, "exp": now + exp_in, "nonce": nonce })
    }

    fn verifier_for(s: &Signer) -> CoreIdTokenVerifier<'static> {
        let jwks: CoreJsonWebKeySet = serde_json::from_value(s.jwks.clone()).unwrap();
        CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(CLIENT.into()),
            ClientSecret::new("secret".into()),
            IssuerUrl::new(ISSUER.into()).unwrap(),
            jwks,
        )
    }

    #[test]
    fn a_good_token_names_the_person() {
        let s = signer();
        let id = verify(&verifier_for(&s), &token(&s, claims(ISSUER, CLIENT, 300, "n1")), "n1").unwrap();
        assert_eq!(id, Identity { issuer: ISSUER.into(), subject: "person-1".into() });
    }

    #[test]
    fn another_issuer_audience_nonce_expiry_or_key_is_refused() {
        let s = signer();
        let v = verifier_for(&s);
        let refused = |t: CoreIdToken, nonce: &str| {
            assert_eq!(verify(&v, &t, nonce), Err(ApiError::IdentityRefused { reason: "id_token_invalid" }));
        };
        refused(token(&s, claims("https://other.example.jp", CLIENT, 300, "n1")), "n1");
        refused(token(&s, claims(ISSUER, "another-client", 300, "n1")), "n1");
        refused(token(&s, claims(ISSUER, CLIENT, 300, "n1")), "n2");
        refused(token(&s, claims(ISSUER, CLIENT, -300, "n1")), "n1");
        // Signed by a key that is not the provider's (same kid, another key).
        let other = Signer { kid: s.kid.clone(), ..signer() };
        refused(token(&other, claims(ISSUER, CLIENT, 300, "n1")), "n1");
    }
}
