//! R-CRED-3: the second factor over HTTP — enrolment with a QR code and a confirming code, ten
//! recovery codes shown once, the two-step login (challenges single-use and 5 minutes long, a
//! code accepted once, wrong codes counted like wrong passwords), removal by the person and by
//! the help desk. The codes are computed here from the enrolment's secret, as an app would.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Env;

const T0: &str = "2026-11-22T10:00:00+09:00";

fn code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).with_account_name("x").build().unwrap();
    totp.generate(u64::try_from(at.timestamp()).unwrap()).to_string()
}

/// Enrols 0000000001 at `env`'s clock; answers the secret and the recovery codes.
pub async fn enrol(env: &Env) -> (String, Vec<String>) {
    let t = env.token("0000000001");
    // R-SEC-1: not without the current password (a stolen session would lock the owner out).
    let stolen = env.post("/api/account/totp", Some(&t), json!({ "current_password": "Guess-0" })).await;
    assert_eq!((stolen.status, stolen.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let started = env.post("/api/account/totp", Some(&t), json!({ "current_password": "Demo-Student-1" })).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let body = started.json();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(body["otpauth_uri"].as_str().unwrap().contains(&format!("secret={secret}")));
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));
    let wrong = env.post("/api/account/totp/confirm", Some(&t), json!({ "code": "000000" })).await;
    assert_eq!((wrong.status, wrong.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_code"));
    let confirmed = env.post("/api/account/totp/confirm", Some(&t), json!({ "code": code(&secret, env.now()) })).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    let codes: Vec<String> =
        confirmed.json()["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn challenge(env: &Env) -> Value {
    let r = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json()["token"].is_null(), "no token before the code: {}", r.text);
    r.json()["second_factor"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_3_enrolment_then_two_step_login_a_code_once_and_challenges_once() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (secret, _) = enrol(&env).await;
    let status = env.get("/api/account/totp", Some(&env.token("0000000001"))).await.json();
    assert_eq!((status["enrolled"].clone(), status["recovery_codes_left"].clone()), (json!(true), json!(10)));
    assert!(!status.to_string().contains(&secret), "the secret is shown once only");
    // The enrolment's own code was used: the same step is refused at login.
    env.set_clock("2026-11-22T10:00:10+09:00").await;
    let c = challenge(&env).await;
    assert_eq!(c["expires_at"], "2026-11-22T10:05:10+09:00");
    let replay = env
        .post(
            "/api/session/second-factor",
            None,
            json!({ "challenge": c["challenge"], "code": code(&secret, env.now()) }),
        )
        .await;
    assert_eq!((replay.status, replay.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_code"), "{}", replay.text);
    env.set_clock("2026-11-22T10:01:00+09:00").await;
    let fresh = code(&secret, env.now());
    let ok = env.post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": fresh })).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let token = ok.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(env.get("/api/me", Some(&token)).await.status, StatusCode::OK);
    // The challenge was used up; and the code, even with a new challenge.
    let again =
        env.post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": fresh })).await;
    assert_eq!(again.code(), "invalid_code");
    let c2 = challenge(&env).await;
    let reused =
        env.post("/api/session/second-factor", None, json!({ "challenge": c2["challenge"], "code": fresh })).await;
    assert_eq!(reused.code(), "invalid_code", "a code is accepted once");
    // A challenge lives 5 minutes.
    env.set_clock("2026-11-22T10:06:01+09:00").await;
    let late = env
        .post(
            "/api/session/second-factor",
            None,
            json!({ "challenge": c2["challenge"], "code": code(&secret, env.now()) }),
        )
        .await;
    assert_eq!(late.code(), "invalid_code", "expired");
    let signs = env.get("/api/account/sign-ins", Some(&token)).await.json();
    let results: Vec<&str> = signs["items"].as_array().unwrap().iter().map(|i| i["result"].as_str().unwrap()).collect();
    assert!(results.contains(&"wrong_code") && results.contains(&"success"), "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_3_recovery_codes_work_once_and_wrong_codes_count_toward_the_lockout() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (_, codes) = enrol(&env).await;
    let c = challenge(&env).await;
    let ok = env
        .post(
            "/api/session/second-factor",
            None,
            json!({ "challenge": c["challenge"], "code": codes[2].to_lowercase() }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let c = challenge(&env).await;
    let used =
        env.post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": codes[2] })).await;
    assert_eq!(used.code(), "invalid_code", "a recovery code works once");
    // This login and the used code took two places: three wrong codes fill the window.
    for _ in 0..3 {
        let r = env
            .post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": "123456" }))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let locked =
        env.post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": codes[3] })).await;
    assert_eq!(
        (locked.status, locked.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        "{}",
        locked.text
    );
    assert_eq!(
        env.login("utokyo", "0000000001", "Demo-Student-1").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the same window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_3_removal_by_the_person_and_by_the_help_desk_after_an_in_person_check() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (secret, codes) = enrol(&env).await;
    let t = env.token("0000000001");
    let remove = |password: &'static str, code: String| {
        let (env, t) = (&env, t.clone());
        async move {
            env.call(
                reqwest::Method::DELETE,
                "/api/account/totp",
                Some(&t),
                Some(json!({ "password": password, "code": code })),
            )
            .await
        }
    };
    assert_eq!(remove("Guess-0", codes[0].clone()).await.code(), "invalid_credentials");
    assert_eq!(remove("Demo-Student-1", "000000".into()).await.code(), "invalid_code");
    env.set_clock("2026-11-22T10:01:00+09:00").await;
    let removed = remove("Demo-Student-1", code(&secret, env.now())).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    let login = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    assert!(login.json()["token"].is_string(), "one step again: {}", login.text);
    // Enrolled again, then the phone is lost: the help desk removes it after seeing an ID card.
    enrol(&env).await;
    let op = env.token("0000000009");
    let page = env.get("/api/admin/accounts/0000000001", Some(&op)).await.json();
    assert_eq!(page["second_factor"]["recovery_codes_left"], 10, "{page}");
    let no_check =
        env.call(reqwest::Method::DELETE, "/api/admin/accounts/0000000001/totp", Some(&op), Some(json!({}))).await;
    assert_eq!(no_check.code(), "bad_request");
    let desk = env
        .call(
            reqwest::Method::DELETE,
            "/api/admin/accounts/0000000001/totp",
            Some(&op),
            Some(json!({ "in_person_check": { "document": "student_id_card" } })),
        )
        .await;
    assert_eq!(desk.status, StatusCode::OK, "{}", desk.text);
    let audit = env.app().store.audit_of("utokyo#0000000001", 20).await.unwrap();
    let removal =
        audit.iter().find(|a| a.action == "second_factor.removed" && a.actor == "utokyo#0000000009").expect("audited");
    assert_eq!(removal.after["verification"]["in_person_check"]["document"], "student_id_card");
    // The secret and the codes are in no audit record, log line or other response.
    let all = format!("{audit:?}");
    assert!(!all.contains(&secret) && !codes.iter().any(|c| all.contains(c.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_3_a_known_password_does_not_reset_the_count_of_wrong_codes() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    enrol(&env).await;
    // Logging in again with the known password does not clear the wrong codes: each unfinished
    // login and each wrong code take a place until a right code gives them back.
    let c = challenge(&env).await;
    for _ in 0..2 {
        let r = env
            .post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": "123456" }))
            .await;
        assert_eq!(r.code(), "invalid_code", "{}", r.text);
    }
    let c = challenge(&env).await;
    let r =
        env.post("/api/session/second-factor", None, json!({ "challenge": c["challenge"], "code": "123456" })).await;
    assert_eq!(r.code(), "invalid_code", "the fifth place: {}", r.text);
    let last = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_3_wrong_codes_when_removing_count_toward_the_lockout() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    enrol(&env).await;
    let t = env.token("0000000001");
    for _ in 0..5 {
        let r = env
            .call(
                reqwest::Method::DELETE,
                "/api/account/totp",
                Some(&t),
                Some(json!({ "password": "Demo-Student-1", "code": "000000" })),
            )
            .await;
        assert_eq!(r.code(), "invalid_code", "{}", r.text);
    }
    let sixth = env
        .call(
            reqwest::Method::DELETE,
            "/api/account/totp",
            Some(&t),
            Some(json!({ "password": "Demo-Student-1", "code": "000000" })),
        )
        .await;
    assert_eq!(sixth.code(), "too_many_attempts", "code guesses are limited: {}", sixth.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_3_successful_two_step_logins_leave_no_count_behind() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (secret, _) = enrol(&env).await;
    // 35 complete two-step logins (more than the 30 a source may fail) from one address.
    let start = chrono::DateTime::parse_from_rfc3339(T0).unwrap();
    for i in 0..35i64 {
        env.set_clock(&(start + chrono::Duration::seconds(30 * (i + 1))).to_rfc3339()).await;
        let c = challenge(&env).await;
        let ok = env
            .post(
                "/api/session/second-factor",
                None,
                json!({ "challenge": c["challenge"], "code": code(&secret, env.now()) }),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK, "login {i}: {}", ok.text);
    }
    assert_eq!(
        env.login("utokyo", "1000000000", "Demo-Bulk-Pass").await.status,
        StatusCode::OK,
        "the source is not full"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_4_a_code_from_another_address_takes_no_failure_off_that_address() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (secret, _) = enrol(&env).await;
    let (home, spray) = (Env::client_from("127.0.0.2"), Env::client_from("127.0.0.3"));
    // 29 failures from one address, over as many accounts (none near its own limit).
    for i in 0..29 {
        let r = env.login_with(&spray, "utokyo", &format!("10000001{i:02}"), "Guess-0").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{i}: {}", r.text);
    }
    // An account of its own: the password from one address, the code from the spraying one.
    env.set_clock("2026-11-22T10:00:30+09:00").await;
    let c = env.login_with(&home, "utokyo", "0000000001", "Demo-Student-1").await.json()["second_factor"].clone();
    let body = json!({ "challenge": c["challenge"], "code": code(&secret, env.now()) });
    let ok = env.call_with(&spray, reqwest::Method::POST, "/api/session/second-factor", None, Some(body)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // The code's own place was given back there, the password's at home: the 30th failure is
    // still the spraying address's last.
    let thirtieth = env.login_with(&spray, "utokyo", "1000000199", "Guess-0").await;
    assert_eq!(thirtieth.status, StatusCode::UNAUTHORIZED, "{}", thirtieth.text);
    let next = env.login_with(&spray, "utokyo", "1000000198", "Guess-0").await;
    assert_eq!(next.status, StatusCode::TOO_MANY_REQUESTS, "a success elsewhere bought no more tries: {}", next.text);
    // At home the password's place was given back: five wrong passwords there before the lockout.
    for i in 0..5 {
        let r = env.login_with(&home, "utokyo", "0000000001", "Guess-0").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "wrong password {i}: {}", r.text);
    }
    assert_eq!(env.login_with(&home, "utokyo", "0000000001", "Guess-0").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_2_a_code_step_refused_for_a_locked_account_or_a_full_window_is_recorded() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (secret, _) = enrol(&env).await;
    let op = env.token("0000000009");
    // The help desk locks the account between the password and the code.
    env.set_clock("2026-11-22T10:00:30+09:00").await;
    let c = challenge(&env).await;
    let lock = json!({ "locked": true, "reason": "reported stolen" });
    assert_eq!(env.put("/api/admin/accounts/0000000001/lock", Some(&op), lock).await.status, StatusCode::OK);
    env.set_clock("2026-11-22T10:00:31+09:00").await;
    let body = json!({ "challenge": c["challenge"], "code": code(&secret, env.now()) });
    let refused = env.post("/api/session/second-factor", None, body).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_code"));
    let page = env.get("/api/admin/accounts/0000000001", Some(&op)).await.json();
    assert_eq!(page["sign_ins"][0]["result"], "refused", "{page}");
    // Unlocked; wrong codes until the window is full: the refused code step is recorded too.
    let unlock = json!({ "locked": false, "reason": "found" });
    assert_eq!(env.put("/api/admin/accounts/0000000001/lock", Some(&op), unlock).await.status, StatusCode::OK);
    let c = challenge(&env).await;
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        let wrong = json!({ "challenge": c["challenge"], "code": "123456" });
        last = env.post("/api/session/second-factor", None, wrong).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let page = env.get("/api/admin/accounts/0000000001", Some(&op)).await.json();
    let results: Vec<&str> = page["sign_ins"].as_array().unwrap().iter().filter_map(|i| i["result"].as_str()).collect();
    assert!(results.contains(&"locked"), "{results:?}");
}
