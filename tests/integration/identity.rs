//! R-CRED-4 through a real OpenID provider: node-oidc-provider (tests/oidc/provider.mjs) on a
//! free loopback port, signed in to through its own login and consent pages by a small cookie-
//! keeping client, as a browser would. The service is the real relying party: discovery, PKCE,
//! the code exchange, the ID token against the provider's JWKS.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::{OidcSecret, OidcSettings};

use crate::harness::{Env, Response};

const CLIENT_ID: &str = "eccs-test";
const CLIENT_SECRET: &str = "eccs-test-client-secret-4b1d";

/// The provider, killed when dropped.
pub struct Provider {
    child: std::process::Child,
    pub issuer: String,
}

impl Provider {
    pub async fn start() -> Self {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let script = root.join("tests/oidc/provider.mjs");
        assert!(
            root.join("tests/oidc/node_modules/oidc-provider").exists(),
            "tests/oidc/node_modules is missing: scripts/test.sh runs `npm ci --prefix tests/oidc`"
        );
        let mut child = std::process::Command::new("node")
            .arg(script)
            .env("PORT", "0")
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node starts the provider");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line).map(|_| line);
            // Keeps the pipe open (a closed one kills the provider at its next write).
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            read
        })
        .await
        .expect("reader")
        .expect("the provider says where it listens");
        let issuer = serde_json::from_str::<Value>(&line).expect("JSON")["issuer"].as_str().expect("issuer").to_owned();
        Self { child, issuer }
    }

    pub fn settings(&self) -> OidcSettings {
        OidcSettings {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: OidcSecret::Value(shared::config::Secret::new(CLIENT_SECRET)),
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service with the demo data and the provider.
async fn env_with(provider: &Provider) -> Env {
    Env::with(eccs_local::Options { oidc: Some(provider.settings()), ..Env::options() }).await
}

/// A browser at the provider: keeps its cookies, signs in as `login` (any password) and consents;
/// answers the URL the provider redirects back to (the service's callback, not yet visited).
async fn sign_in(authorization_url: &str, login: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let origin = {
        let u = reqwest::Url::parse(authorization_url).unwrap();
        format!("{}://{}", u.scheme(), u.host_str().unwrap()) + &u.port().map(|p| format!(":{p}")).unwrap_or_default()
    };
    let mut next = (Method::GET, authorization_url.to_owned(), None::<String>);
    for _ in 0..12 {
        let (method, url, form) = next.clone();
        let cookie = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut req = http.request(method, &url).header("cookie", cookie);
        if let Some(form) = form {
            req = req.header("content-type", "application/x-www-form-urlencoded").body(form);
        }
        let resp = req.send().await.expect("provider answers");
        for c in resp.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        if let Some(location) = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned()) {
            let absolute = if location.starts_with('/') { format!("{origin}{location}") } else { location };
            if !absolute.starts_with(&origin) {
                return absolute;
            }
            next = (Method::GET, absolute, None);
            continue;
        }
        let status = resp.status();
        let html = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "provider page: {html}");
        let action = html.split("action=\"").nth(1).and_then(|s| s.split('"').next()).expect("a form");
        let action = if action.starts_with('/') { format!("{origin}{action}") } else { action.to_owned() };
        let form = if html.contains("name=\"login\"") {
            format!("prompt=login&login={login}&password=any-password")
        } else {
            "prompt=consent".to_owned()
        };
        next = (Method::POST, action, Some(form));
    }
    panic!("the provider never redirected back");
}

/// The flow cookie the service set on a start.
fn flow_cookie(r: &Response) -> String {
    let set = r.headers.get("set-cookie").expect("a flow cookie").to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

/// Visits the service's callback URL as the browser that started the flow (`cookie`).
async fn callback(env: &Env, url: &str, cookie: &str, accept: &str) -> Response {
    assert!(url.starts_with(&env.url), "the service's own callback: {url}");
    // As sent, without following the service's redirect back to the portal.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = http.get(url).header("cookie", cookie).header("accept", accept).send().await.expect("callback");
    let (status, headers) = (resp.status(), resp.headers().clone());
    Response { status, headers, text: resp.text().await.unwrap_or_default() }
}

/// Links `account` to the provider's `login`; answers the callback's response.
async fn link(env: &Env, account: &str, login: &str) -> Response {
    let token = env.token(account);
    let start = env.get("/api/identity-link/start", Some(&token)).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let url = start.json()["authorization_url"].as_str().unwrap().to_owned();
    assert!(url.contains("code_challenge_method=S256") && url.contains("nonce=") && url.contains("state="), "{url}");
    let back = sign_in(&url, login).await;
    callback(env, &back, &flow_cookie(&start), "application/json").await
}

/// Asks for a reset of `account` and signs in at the provider as `login`; answers the callback.
async fn reset_callback(env: &Env, account: &str, login: &str) -> Response {
    let start = env.post("/api/password-reset/start", None, json!({ "account": account })).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let back = sign_in(start.json()["authorization_url"].as_str().unwrap(), login).await;
    callback(env, &back, &flow_cookie(&start), "application/json").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_link_then_reset_a_forgotten_password_and_the_second_factor() {
    let provider = Provider::start().await;
    let env = env_with(&provider).await;
    let old_token = env.token("0000000001");

    let linked = link(&env, "0000000001", "alice").await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(linked.json()["linked"], true);
    let shown = env.get("/api/identity-link", Some(&old_token)).await.json();
    assert_eq!((shown["linked"].clone(), shown["issuer"].clone()), (json!(true), json!(provider.issuer)));
    assert_eq!(env.get("/api/me", Some(&old_token)).await.json()["profile"]["identity_linked"], true);

    // The help desk's reset (R-LC-4) no longer needs an in-person check for a linked account.
    let desk = env.token("0000000009");
    let key =
        env.post("/api/admin/accounts/0000000001/activation-key", Some(&desk), json!({ "action": "issue" })).await;
    assert!(key.status.is_success(), "{}", key.text);
    let unlinked =
        env.post("/api/admin/accounts/0000000004/activation-key", Some(&desk), json!({ "action": "issue" })).await;
    assert_eq!((unlinked.status, unlinked.code()), (StatusCode::CONFLICT, "identity_verification_required".into()));

    // A broken second factor goes with the reset, if the person asks.
    crate::second_factor::enrol(&env).await;
    let granted = reset_callback(&env, "0000000001", "alice").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    let grant = granted.json()["grant"].as_str().unwrap().to_owned();
    let weak = env.post("/api/password-reset", None, json!({ "grant": grant, "new_password": "abc" })).await;
    assert_eq!((weak.status, weak.code()), (StatusCode::BAD_REQUEST, "password_policy".into()));
    let new_password = "Kaede-Momiji-2026!";
    let done = env
        .post(
            "/api/password-reset",
            None,
            json!({ "grant": grant, "new_password": new_password, "remove_second_factor": true }),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.json()["second_factor_removed"], true);
    // Once only.
    let again = env.post("/api/password-reset", None, json!({ "grant": grant, "new_password": new_password })).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "reset_not_possible".into()));
    // Every session of before ends; the new password logs in.
    assert_eq!(env.get("/api/me", Some(&old_token)).await.status, StatusCode::UNAUTHORIZED);
    let login = env.login("utokyo", "0000000001", new_password).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert!(login.json()["token"].is_string(), "no second step any more: {}", login.text);

    // Audited, told, and no secret anywhere.
    let audit = env.get("/api/admin/accounts/0000000001/audit", Some(&desk)).await.text;
    assert!(audit.contains("identity.linked") && audit.contains("password.reset_by_identity"), "{audit}");
    let outbox: Vec<_> = env.dump("outbox").await;
    let kinds: Vec<_> = outbox.iter().filter_map(|i| i.get("kind").and_then(|k| k.as_s().ok()).cloned()).collect();
    assert!(kinds.contains(&"identity_linked".into()) && kinds.contains(&"password_reset".into()), "{kinds:?}");
    let everything = env.dump_all().await;
    assert!(!everything.contains(&grant) && !everything.contains(CLIENT_SECRET) && !everything.contains(new_password));
    let logs = crate::harness::captured_logs();
    assert!(!logs.contains(&grant) && !logs.contains(CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_unknown_unlinked_or_another_sub_get_one_answer() {
    let provider = Provider::start().await;
    let env = env_with(&provider).await;
    assert_eq!(link(&env, "0000000001", "alice").await.status, StatusCode::OK);
    let answers = [
        reset_callback(&env, "9999999999", "alice").await,
        reset_callback(&env, "0000000004", "alice").await,
        reset_callback(&env, "0000000001", "mallory").await,
    ];
    for a in &answers {
        assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "reset_not_possible".into()), "{}", a.text);
        assert_eq!(a.text, answers[0].text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_a_sub_linked_to_another_account_is_refused() {
    let provider = Provider::start().await;
    let env = env_with(&provider).await;
    assert_eq!(link(&env, "0000000001", "alice").await.status, StatusCode::OK);
    let second = link(&env, "0000000004", "alice").await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST, "{}", second.text);
    assert_eq!(second.json()["error"]["details"]["reason"], "identity_already_linked");
    assert_eq!(env.get("/api/identity-link", Some(&env.token("0000000004"))).await.json()["linked"], false);
    // Once the first account lets go, the second may link it.
    let unlink = env
        .call(
            Method::DELETE,
            "/api/identity-link",
            Some(&env.token("0000000001")),
            Some(json!({ "current_password": "Demo-Student-1" })),
        )
        .await;
    assert_eq!(unlink.status, StatusCode::OK, "{}", unlink.text);
    assert_eq!(link(&env, "0000000004", "alice").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_state_works_once_in_the_browser_that_started_it_with_its_own_pkce() {
    let provider = Provider::start().await;
    let env = env_with(&provider).await;
    let token = env.token("0000000001");
    let reason = |r: &Response| r.json()["error"]["details"]["reason"].as_str().unwrap_or_default().to_owned();

    // Another browser (no flow cookie, or another one) is refused, and the state is spent.
    let start = env.get("/api/identity-link/start", Some(&token)).await;
    let back = sign_in(start.json()["authorization_url"].as_str().unwrap(), "alice").await;
    let stranger = callback(&env, &back, "eccs_oidc=someone-else", "application/json").await;
    assert_eq!((stranger.status, reason(&stranger)), (StatusCode::BAD_REQUEST, "another_browser".into()));
    let replay = callback(&env, &back, &flow_cookie(&start), "application/json").await;
    assert_eq!((replay.status, reason(&replay)), (StatusCode::BAD_REQUEST, "state_unknown_or_used".into()));

    // A state never issued.
    let forged = back.replace("state=", "state=x");
    let forged = callback(&env, &forged, &flow_cookie(&start), "application/json").await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.text);

    // A code obtained for one request, brought back with another request's state: the exchange
    // carries the other request's PKCE verifier, and the provider refuses it.
    let a = env.get("/api/identity-link/start", Some(&token)).await;
    let b = env.get("/api/identity-link/start", Some(&token)).await;
    let back_a = sign_in(a.json()["authorization_url"].as_str().unwrap(), "alice").await;
    let state_b = reqwest::Url::parse(b.json()["authorization_url"].as_str().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut mixed = reqwest::Url::parse(&back_a).unwrap();
    let pairs: Vec<(String, String)> = mixed
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == "state" { state_b.clone() } else { v.into_owned() }))
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let swapped = callback(&env, mixed.as_str(), &flow_cookie(&b), "application/json").await;
    assert_eq!((swapped.status, reason(&swapped)), (StatusCode::BAD_REQUEST, "code_refused".into()));
    assert_eq!(env.get("/api/identity-link", Some(&token)).await.json()["linked"], false);

    // A browser is sent back to the portal's page with the result.
    let c = env.get("/api/identity-link/start", Some(&token)).await;
    let back_c = sign_in(c.json()["authorization_url"].as_str().unwrap(), "alice").await;
    let page = callback(&env, &back_c, &flow_cookie(&c), "text/html,application/xhtml+xml").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
    let location = page.headers.get("location").unwrap().to_str().unwrap();
    assert_eq!(location, format!("{}/#/identity-link?linked=1", env.url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_a_grant_expires_after_10_minutes() {
    let provider = Provider::start().await;
    let env = env_with(&provider).await;
    assert_eq!(link(&env, "0000000001", "alice").await.status, StatusCode::OK);
    let granted = reset_callback(&env, "0000000001", "alice").await;
    let grant = granted.json()["grant"].as_str().unwrap().to_owned();
    let later = env.now() + chrono::Duration::minutes(11);
    env.set_clock(&later.to_rfc3339()).await;
    let late =
        env.post("/api/password-reset", None, json!({ "grant": grant, "new_password": "Kaede-Momiji-2026!" })).await;
    assert_eq!((late.status, late.code()), (StatusCode::NOT_FOUND, "reset_not_possible".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_without_a_provider_the_service_says_so() {
    let env = Env::start().await;
    let r = env.get("/api/identity-link/start", Some(&env.token("0000000001"))).await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "identity_provider_not_configured".into()));
    let r = env.post("/api/password-reset/start", None, json!({ "account": "0000000001" })).await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "identity_provider_not_configured".into()));
    assert_eq!(
        env.get("/api/identity-link", Some(&env.token("0000000001"))).await.json()["provider_configured"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_a_link_needs_the_password_or_a_fresh_sign_in_and_dies_with_a_password_change() {
    let provider = Provider::start().await;
    let env = env_with(&provider).await;
    let reason = |r: &Response| r.json()["error"]["details"]["reason"].as_str().unwrap_or_default().to_owned();
    // A session signed in more than five minutes ago (a stolen one, say) cannot start a link by
    // itself: R-SEC-1's current password, as for every credential.
    let issued = env.now() - chrono::Duration::minutes(6);
    let app = env.app();
    let old = app.keys.issue(&app.tokens, shared::domain::account::Realm::Utokyo, "0000000001", 0, issued).unwrap().0;
    let stale = env.get("/api/identity-link/start", Some(&old)).await;
    assert_eq!((stale.status, reason(&stale)), (StatusCode::BAD_REQUEST, "reauthentication_required".into()));
    let wrong = env.post("/api/identity-link/start", Some(&old), json!({ "current_password": "Guess-1" })).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials".into()));
    let start = env.post("/api/identity-link/start", Some(&old), json!({ "current_password": "Demo-Student-1" })).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);

    // The owner changes the password while the flow is out: the flow ends with the old
    // credentials, and nothing is linked.
    let back = sign_in(start.json()["authorization_url"].as_str().unwrap(), "mallory").await;
    let changed = env
        .put(
            "/api/account/password",
            Some(&env.token("0000000001")),
            json!({ "current_password": "Demo-Student-1", "new_password": "Kaede-Momiji-2026!" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let late = callback(&env, &back, &flow_cookie(&start), "application/json").await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "{}", late.text);
    let fresh =
        env.login("utokyo", "0000000001", "Kaede-Momiji-2026!").await.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(env.get("/api/identity-link", Some(&fresh)).await.json()["linked"], false);
}

static CLIENT_SECRET_READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Secrets Manager's stand-in: counts its reads, and knows the client secret.
fn client_secret<'a>(
    _: &'a aws_config::SdkConfig,
    ids: Vec<String>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
    CLIENT_SECRET_READS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Box::pin(async move { Ok(ids.iter().map(|_| CLIENT_SECRET.to_owned()).collect()) })
}

/// Secrets Manager unreachable.
fn unreachable<'a>(
    _: &'a aws_config::SdkConfig,
    ids: Vec<String>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
    Box::pin(async move { Err(format!("secret {}: unreachable", ids.join(","))) })
}

/// The relying party as a function in AWS builds it: its client secret named by its id.
fn relying_party(
    provider: &Provider,
    read: shared::edge::secrets::Reader,
) -> std::sync::Arc<shared::edge::oidc::Provider> {
    let sdk = aws_config::SdkConfig::builder().build();
    let id = "eccs/oidc-client-secret".to_owned();
    let settings = OidcSettings { client_secret: OidcSecret::Secret(id.clone()), ..provider.settings() };
    let deferred = shared::edge::secrets::Deferred::new(&sdk, id, read, |v| Ok(shared::config::Secret::new(v)));
    shared::edge::oidc::Provider::make(&settings, Some(deferred)).expect("a relying party")
}

/// One sign-in through the relying party: its start, the provider's pages, its code exchange.
async fn through(
    rp: &shared::edge::oidc::Provider,
    login: &str,
) -> Result<shared::edge::oidc::Identity, shared::ApiError> {
    const REDIRECT: &str = "http://127.0.0.1:9/callback";
    let started = rp.begin(REDIRECT).await.expect("the start");
    let back = reqwest::Url::parse(&sign_in(&started.url, login).await).unwrap();
    let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("a code");
    rp.finish(REDIRECT, &code, &started.pkce_verifier, &started.nonce).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_4_the_client_secret_is_read_at_the_first_code_exchange_and_kept() {
    let provider = Provider::start().await;
    let reads = || CLIENT_SECRET_READS.load(std::sync::atomic::Ordering::SeqCst);
    let rp = relying_party(&provider, client_secret);
    assert_eq!(reads(), 0, "nothing is read when the function starts");
    rp.begin("http://127.0.0.1:9/callback").await.expect("a start");
    assert_eq!(reads(), 0, "the start sends no secret, so it reads none");
    // The provider checks the secret at its token endpoint: a wrong one would be refused.
    for login in ["alice", "bob"] {
        let identity = through(&rp, login).await.expect("signed in");
        assert_eq!((identity.issuer.as_str(), identity.subject.as_str()), (provider.issuer.as_str(), login));
    }
    assert_eq!(reads(), 1, "read once, at the first exchange, then kept");

    // Secrets Manager unreachable: the first start works (nothing is known yet); the exchange is
    // a 503, and so is every start while the failure is remembered (a minute here), with the
    // seconds left, so that nobody signs in at the provider for a callback that would fail.
    let rp = relying_party(&provider, unreachable);
    let unavailable = |r: Result<_, shared::ApiError>| match r {
        Err(shared::ApiError::ServiceUnavailable { retry_after }) => (1..=60).contains(&retry_after),
        _ => false,
    };
    assert!(unavailable(through(&rp, "alice").await.map(|_| ())));
    assert!(unavailable(rp.begin("http://127.0.0.1:9/callback").await.map(|_| ())));
}
