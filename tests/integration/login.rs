//! R-LOGIN-1..3: tokens, the one 401, the failure window; and every kind of bad token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Env, test_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_1_login_gives_a_token_that_every_function_accepts() {
    let env = Env::start().await;
    let r = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["account"]["account"], "0000000001");
    let expires = shared::domain::time::parse_stamp(body["expires_at"].as_str().unwrap()).unwrap();
    let lifetime = expires - env.now();
    assert!(lifetime <= chrono::Duration::minutes(30) && lifetime > chrono::Duration::minutes(29), "{lifetime}");
    let me = env.get("/api/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json()["profile"]["account"], "0000000001");
    // The subject comes from the token only.
    assert!(!r.text.contains("password_hash") && !me.text.contains("argon2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_1_jwks_and_discovery_verify_the_issued_token() {
    let env = Env::start().await;
    let token = env.login("utokyo", "0000000004", "Demo-Faculty-4").await.json()["token"].as_str().unwrap().to_owned();
    let discovery = env.get("/.well-known/openid-configuration", None).await.json();
    assert_eq!(discovery["issuer"], env.url);
    assert_eq!(discovery["jwks_uri"], format!("{}/.well-known/jwks.json", env.url));
    assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["RS256"]));
    let jwks: JwkSet = serde_json::from_str(&env.get("/.well-known/jwks.json", None).await.text).unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the token's kid is in the JWKS");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["eccs"]);
    v.set_issuer(&[env.url.as_str()]);
    let data = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap();
    assert_eq!(data.claims["sub"], "0000000004");
    assert!(!serde_json::to_string(&jwks).unwrap().contains("\"d\""), "no private part in the JWKS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_2_unknown_wrong_revoked_and_expired_answer_byte_identically() {
    let env = Env::start().await;
    let unknown = env.login("utokyo", "0000000077", "Demo-Student-1").await;
    let malformed = env.login("utokyo", "not-an-id", "Demo-Student-1").await;
    let wrong = env.login("utokyo", "0000000001", "Demo-Student-2").await;
    let revoked = env.login("utokyo", "0000000008", "Demo-Staff-8").await;
    let workshop_wrong = env.login("workshop", "ws0001", "nope").await;
    // The same account after its valid_until (demo: at least a year away).
    env.set_clock(&format!("{}T09:00:00+09:00", env.today() + chrono::Duration::days(3 * 366))).await;
    let expired = env.login("utokyo", "0000000004", "Demo-Faculty-4").await;
    for r in [&unknown, &malformed, &wrong, &revoked, &workshop_wrong, &expired] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.text, unknown.text, "bodies must not reveal which case it is");
    }
    assert_eq!(unknown.code(), "invalid_credentials");
    assert!(unknown.text.contains("アカウントもしくはパスワードに誤りがあります"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_3_five_failures_lock_the_account_until_the_window_passes() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    for _ in 0..5 {
        assert_eq!(env.login("utokyo", "0000000001", "wrong").await.status, StatusCode::UNAUTHORIZED);
    }
    let locked = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.text);
    assert_eq!(locked.code(), "too_many_attempts");
    assert_eq!(locked.json()["error"]["details"]["retry_after"], 900);
    assert_eq!(locked.headers["retry-after"], "900");
    // Another account is not affected.
    assert_eq!(env.login("utokyo", "0000000004", "Demo-Faculty-4").await.status, StatusCode::OK);
    env.set_clock("2026-11-22T10:14:59+09:00").await;
    let still = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(still.json()["error"]["details"]["retry_after"], 1);
    env.set_clock("2026-11-22T10:15:01+09:00").await;
    assert_eq!(env.login("utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_3_twenty_parallel_wrong_attempts_lock_the_account() {
    let env = Env::start().await;
    let attempts = (0..20).map(|i| {
        let env = &env;
        async move { env.login("utokyo", "0000000005", &format!("guess-{i}")).await.status }
    });
    let statuses = futures::future::join_all(attempts).await;
    let tested = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(tested + refused, 20, "{statuses:?}");
    assert!(tested <= 5, "at most five passwords tested per window, got {tested}");
    let right = env.login("utokyo", "0000000005", "Demo-Staff-5").await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "a correct password gets 429, not a token");
    assert!(!right.text.contains("token"));
}

fn claims(env: &Env, overrides: Value) -> Value {
    let now = env.now().timestamp();
    let mut c = json!({
        "iss": env.url, "aud": "eccs", "sub": "0000000001", "realm": "utokyo",
        "iat": now, "nbf": now, "exp": now + 600, "jti": "t",
    });
    for (k, v) in overrides.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn sign(claims: &Value, pem: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_1_bad_tokens_are_refused() {
    let env = Env::start().await;
    let key = test_key();
    let good = sign(&claims(&env, json!({})), &key);
    assert_eq!(env.get("/api/me", Some(&good)).await.status, StatusCode::OK, "the control token works");

    // Tampered: the payload says another subject, the signature is the old one.
    let parts: Vec<&str> = good.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(claims(&env, json!({ "sub": "0000000009" })).to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    // alg none.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    // HS256 signed with the public key as the HMAC secret (alg confusion).
    let public_pem = eccs_local::lambda::public_pem(&key).unwrap();
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&env, json!({})),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    let other_key = shared::edge::auth::Keys::generate_pem().unwrap();
    let cases = [
        ("tampered", tampered),
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("wrong key", sign(&claims(&env, json!({})), &other_key)),
        ("wrong aud", sign(&claims(&env, json!({ "aud": "other" })), &key)),
        ("wrong iss", sign(&claims(&env, json!({ "iss": "https://evil.example" })), &key)),
        ("expired", sign(&claims(&env, json!({ "exp": env.now().timestamp() - 1 })), &key)),
        ("not yet valid", sign(&claims(&env, json!({ "nbf": env.now().timestamp() + 600 })), &key)),
        ("too long a lifetime", sign(&claims(&env, json!({ "exp": env.now().timestamp() + 7200 })), &key)),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in cases {
        let r = env.get("/api/me", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        assert!(matches!(r.code().as_str(), "unauthorized" | "token_expired"), "{what}: {}", r.text);
    }
    assert_eq!(env.get("/api/me", None).await.code(), "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_1_a_token_expires_after_thirty_minutes_by_the_clock() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let token = env.login("utokyo", "0000000001", "Demo-Student-1").await.json()["token"].as_str().unwrap().to_owned();
    env.set_clock("2026-11-22T10:29:59+09:00").await;
    assert_eq!(env.get("/api/me", Some(&token)).await.status, StatusCode::OK);
    env.set_clock("2026-11-22T10:30:00+09:00").await;
    let r = env.get("/api/me", Some(&token)).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::UNAUTHORIZED, "token_expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_2_a_revoked_accounts_old_token_stops_working_at_once() {
    let env = Env::start().await;
    let token = env.token("0000000006");
    assert_eq!(env.get("/api/me", Some(&token)).await.status, StatusCode::OK);
    env.app()
        .store
        .db
        .update_item()
        .table_name(&env.app().store.tables.accounts)
        .key("pk", shared::store::s("utokyo#0000000006"))
        .update_expression("SET #s = :r")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":r", shared::store::s("revoked"))
        .send()
        .await
        .unwrap();
    assert_eq!(env.get("/api/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
}

/// R-LOGIN-1 with the public key as configuration gives it (#17): the PEM folded onto one line,
/// as the `JwtPublicKeyPem` template parameter carries it, verifies the session's tokens and
/// publishes the same key id.
#[test]
fn the_public_key_from_one_line_of_configuration_verifies_the_session_tokens() {
    let private = shared::edge::auth::Keys::generate_pem().unwrap();
    let signer = shared::edge::auth::Keys::from_private_pem(&private).unwrap();
    let folded = eccs_local::lambda::public_pem(&private).unwrap().replace('\n', " ");
    assert!(!folded.contains('\n'));
    let verifier = shared::edge::auth::Keys::from_public_pem_text(&folded).unwrap();
    assert_eq!(verifier.kid(), signer.kid());
    assert_eq!(verifier.jwks(), signer.jwks());
    let settings = shared::edge::auth::TokenSettings { issuer: "https://idm.example".into(), audience: "eccs".into() };
    let now = chrono::Utc::now();
    let (token, _) = signer.issue(&settings, shared::domain::account::Realm::Utokyo, "0000000001", 0, now).unwrap();
    assert_eq!(verifier.verify(&settings, &token, now).unwrap().sub, "0000000001");
    assert!(
        verifier.issue(&settings, shared::domain::account::Realm::Utokyo, "0000000001", 0, now).is_err(),
        "verifies only"
    );
    assert!(
        shared::edge::auth::Keys::from_public_pem_text("-----BEGIN PUBLIC KEY----- garbage -----END PUBLIC KEY-----")
            .is_err()
    );
}
