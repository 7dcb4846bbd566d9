//! R-LOGIN-3/4 and R-SEC-1..7: what an attacker with a stolen token, a sprayer or a prankster
//! tried against the running service. The per-source rules use clients bound to different
//! loopback addresses (127.0.0.2, 127.0.0.3, …), which the gateway reports as `sourceIp`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Env;
use crate::lifecycle::{import, jsonl, key_of, record};

const T0: &str = "2026-11-22T10:00:00+09:00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_3_the_lockout_is_per_account_and_source_so_the_owner_still_logs_in() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let (attacker, owner) = (Env::client_from("127.0.0.2"), Env::client_from("127.0.0.3"));
    for _ in 0..5 {
        let r = env.login_with(&attacker, "utokyo", "0000000001", "Guess-0").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let refused = env.login_with(&attacker, "utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert_eq!(refused.json()["error"]["details"]["retry_after"], 900);
    let own = env.login_with(&owner, "utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!(own.status, StatusCode::OK, "five failures from elsewhere lock the owner out: {}", own.text);
    // A refused source keeps trying: nothing it sends counts toward the account's own window.
    for _ in 0..60 {
        assert_eq!(env.login_with(&attacker, "utokyo", "0000000001", "Guess-1").await.status, 429);
    }
    assert_eq!(env.login_with(&owner, "utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
    // The window passes.
    env.set_clock("2026-11-22T10:15:01+09:00").await;
    assert_eq!(env.login_with(&attacker, "utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_4_fifty_failures_from_all_sources_lock_the_account_for_everyone() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    for source in 10..20 {
        let client = Env::client_from(&format!("127.0.0.{source}"));
        for _ in 0..5 {
            assert_eq!(env.login_with(&client, "utokyo", "0000000001", "Guess-2").await.status, 401);
        }
    }
    let owner = Env::client_from("127.0.0.3");
    let r = env.login_with(&owner, "utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "{}", r.text);
    // Another account is not affected.
    assert_eq!(env.login_with(&owner, "utokyo", "0000000004", "Demo-Faculty-4").await.status, StatusCode::OK);
    env.set_clock("2026-11-22T10:15:01+09:00").await;
    assert_eq!(env.login_with(&owner, "utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_4_an_account_filled_late_in_its_window_is_locked_15_minutes_from_then() {
    // One failure opens the account's window at 10:00; the other 49 come at 10:14, from 13
    // addresses (none of them reaches its own limit of 5). Locked until 10:29, not 10:15.
    let env = Env::start().await;
    env.set_clock(T0).await;
    let first = Env::client_from("127.0.0.10");
    assert_eq!(env.login_with(&first, "utokyo", "0000000001", "Guess-2").await.status, 401);
    env.set_clock("2026-11-22T10:14:00+09:00").await;
    for n in 0..49 {
        let client = Env::client_from(&format!("127.0.0.{}", 11 + n / 4));
        assert_eq!(env.login_with(&client, "utokyo", "0000000001", "Guess-2").await.status, 401, "failure {n}");
    }
    let owner = Env::client_from("127.0.0.3");
    env.set_clock("2026-11-22T10:15:01+09:00").await;
    let r = env.login_with(&owner, "utokyo", "0000000001", "Demo-Student-1").await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "{}", r.text);
    assert_eq!(r.json()["error"]["details"]["retry_after"], 839, "until 10:29:00");
    env.set_clock("2026-11-22T10:29:01+09:00").await;
    assert_eq!(env.login_with(&owner, "utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_login_4_one_source_spraying_many_accounts_gets_429_for_every_account() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let sprayer = Env::client_from("127.0.0.2");
    for i in 0..30 {
        let r = env.login_with(&sprayer, "utokyo", &format!("{}", 1_000_000_000 + i), "Password1").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}: {}", r.text);
    }
    let next = env.login_with(&sprayer, "utokyo", "1000000100", "Password1").await;
    assert_eq!((next.status, next.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    // Even a right password from that source waits; the sprayed people themselves do not.
    assert_eq!(env.login_with(&sprayer, "utokyo", "1000000101", "Demo-Bulk-Pass").await.status, 429);
    let elsewhere = Env::client_from("127.0.0.3");
    assert_eq!(env.login_with(&elsewhere, "utokyo", "1000000000", "Demo-Bulk-Pass").await.status, StatusCode::OK);
    // Successes do not fill a source's window (a campus behind one address logs in all day).
    let campus = Env::client_from("127.0.0.4");
    for i in 0..40 {
        let r = env.login_with(&campus, "utokyo", &format!("{}", 1_000_000_000 + i), "Demo-Bulk-Pass").await;
        assert_eq!(r.status, StatusCode::OK, "login {i}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_1_the_cloud_mail_password_is_no_oracle_for_the_university_password() {
    let env = Env::start().await;
    env.set_clock(T0).await;
    let t = env.token("0000000001");
    let stolen = Env::client_from("127.0.0.2");
    let put = |current: &'static str, password: &'static str| {
        let (env, t, stolen) = (&env, t.clone(), stolen.clone());
        async move {
            env.call_with(
                &stolen,
                Method::PUT,
                "/api/cloud-mail/password",
                Some(&t),
                Some(json!({ "current_password": current, "password": password })),
            )
            .await
        }
    };
    // A candidate equal to the university password, behind a wrong current password: the answer
    // is the same 401 as for any other candidate.
    let hit = put("Guess-0", "Demo-Student-1").await;
    let miss = put("Guess-0", "Demo-Other-77").await;
    assert_eq!((hit.status, hit.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "{}", hit.text);
    assert_eq!(hit.text, miss.text);
    let missing = env
        .call_with(
            &stolen,
            Method::PUT,
            "/api/cloud-mail/password",
            Some(&t),
            Some(json!({ "password": "Kx7#mQ2v-Rt9" })),
        )
        .await;
    assert_eq!(missing.code(), "bad_request", "{}", missing.text);
    // Wrong current passwords count like failed logins (R-LOGIN-3).
    for _ in 0..3 {
        assert_eq!(put("Guess-1", "Kx7#mQ2v-Rt9").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(put("Demo-Student-1", "Kx7#mQ2v-Rt9").await.code(), "too_many_attempts");
    assert_eq!(
        env.login_with(&stolen, "utokyo", "0000000001", "Demo-Student-1").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the same window as the login"
    );
    // The person, from their own address and with their password, changes it.
    let own = Env::client_from("127.0.0.3");
    let ok = env
        .call_with(
            &own,
            Method::PUT,
            "/api/cloud-mail/password",
            Some(&t),
            Some(json!({ "current_password": "Demo-Student-1", "password": "Kx7#mQ2v-Rt9" })),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);
    let same = env
        .call_with(
            &own,
            Method::PUT,
            "/api/cloud-mail/password",
            Some(&t),
            Some(json!({ "current_password": "Demo-Student-1", "password": "Demo-Student-1" })),
        )
        .await;
    assert_eq!(same.json()["error"]["details"]["violations"], json!(["same_as_account_password"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_1_forwarding_and_the_workshop_password_need_the_current_password() {
    let env = Env::start().await;
    let student = env.token("0000000001");
    let forwarding = |current: &'static str| {
        let (env, t) = (&env, student.clone());
        async move {
            env.put(
                "/api/cloud-mail/forwarding",
                Some(&t),
                json!({ "address": "taro@example.ac.jp", "current_password": current }),
            )
            .await
        }
    };
    assert_eq!(forwarding("Guess-0").await.code(), "invalid_credentials");
    assert!(env.dump("outbox").await.is_empty(), "nothing is mailed for a wrong password");
    assert_eq!(forwarding("Demo-Student-1").await.status, StatusCode::ACCEPTED);
    let workshop = env.token("ws0001");
    let wrong = env
        .put("/api/workshop/password", Some(&workshop), json!({ "current_password": "x", "password": "Lq8#vN3z-Wp5" }))
        .await;
    assert_eq!((wrong.status, wrong.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    assert_eq!(env.login("workshop", "ws0001", "Demo-Workshop-1").await.status, StatusCode::OK, "unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_1_a_reset_by_activation_key_ends_the_sessions_issued_before_it() {
    let env = Env::start().await;
    let before = env.login("utokyo", "0000000001", "Demo-Student-1").await.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(env.get("/api/me", Some(&before)).await.status, StatusCode::OK);
    let op = env.token("0000000009");
    let reset = env
        .post(
            "/api/admin/accounts/0000000001/activation-key",
            Some(&op),
            json!({ "action": "issue", "in_person_check": { "document": "student_id_card" } }),
        )
        .await;
    assert_eq!(reset.status, StatusCode::CREATED, "{}", reset.text);
    let key = reset.json()["activation_key"].as_str().unwrap().to_owned();
    let activated = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "0000000001", "activation_key": key, "password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    // The same instant (the clock is fixed in many tests): the version, not the time, decides.
    let old = env.get("/api/me", Some(&before)).await;
    assert_eq!((old.status, old.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{}", old.text);
    let after = env.login("utokyo", "0000000001", "Vq7#tLm2-Xs8").await.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(env.get("/api/me", Some(&after)).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_2_at_most_five_forwarding_confirmations_a_day() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let t = env.token("0000000001");
    for i in 0..5 {
        let r = env
            .put(
                "/api/cloud-mail/forwarding",
                Some(&t),
                json!({ "address": format!("taro{i}@example.ac.jp"), "current_password": "Demo-Student-1" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "request {i}: {}", r.text);
    }
    let sixth = env
        .put(
            "/api/cloud-mail/forwarding",
            Some(&t),
            json!({ "address": "taro9@example.ac.jp", "current_password": "Demo-Student-1" }),
        )
        .await;
    assert_eq!((sixth.status, sixth.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"));
    assert_eq!(sixth.json()["error"]["details"]["retry_after"], 14 * 3600, "until midnight JST");
    assert_eq!(sixth.headers["retry-after"], "50400");
    // Nothing of the refused request was written: 5 confirmations and 5 notices.
    assert_eq!(env.dump("outbox").await.len(), 10);
    env.set_clock("2026-11-23T00:00:01+09:00").await;
    let t = env.token("0000000001");
    let next_day = env
        .put(
            "/api/cloud-mail/forwarding",
            Some(&t),
            json!({ "address": "taro9@example.ac.jp", "current_password": "Demo-Student-1" }),
        )
        .await;
    assert_eq!(next_day.status, StatusCode::ACCEPTED, "{}", next_day.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_2_forwarding_addresses_are_ordinary_mailboxes() {
    let env = Env::start().await;
    let t = env.token("0000000001");
    for bad in ["a%b@example.com", "{a}|b@example.com", "a!b@example.com", "a@b@example.com"] {
        let r = env
            .put(
                "/api/cloud-mail/forwarding",
                Some(&t),
                json!({ "address": bad, "current_password": "Demo-Student-1" }),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_address"), "{bad}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_3_links_stop_working_when_the_account_is_revoked_or_locked() {
    let sink = crate::harness::SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    let ask = |account: &'static str, password: &'static str| {
        let env = &env;
        async move {
            env.put(
                "/api/cloud-mail/forwarding",
                Some(&env.token(account)),
                json!({ "address": format!("x{account}@example.ac.jp"), "current_password": password }),
            )
            .await
        }
    };
    assert_eq!(ask("0000000001", "Demo-Student-1").await.status, StatusCode::ACCEPTED);
    assert_eq!(ask("0000000004", "Demo-Faculty-4").await.status, StatusCode::ACCEPTED);
    let mail = sink.messages();
    let link = |to: &str| {
        let m = mail.iter().find(|m| m.to == to).unwrap();
        crate::services::link_token(&m.body, "#/forwarding/")
    };
    // 0000000001 is revoked by the registrar, 0000000004 locked by the help desk.
    env.app()
        .store
        .db
        .update_item()
        .table_name(env.app().store.tables.name_of("accounts").unwrap())
        .key("pk", shared::store::s("utokyo#0000000001"))
        .update_expression("SET #s = :r")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":r", shared::store::s("revoked"))
        .send()
        .await
        .unwrap();
    let op = env.token("0000000009");
    let lock =
        env.put("/api/admin/accounts/0000000004/lock", Some(&op), json!({ "locked": true, "reason": "x" })).await;
    assert_eq!(lock.status, StatusCode::OK, "{}", lock.text);
    for to in ["x0000000001@example.ac.jp", "x0000000004@example.ac.jp"] {
        let r = env.post("/api/cloud-mail/forwarding/confirm", None, json!({ "token": link(to) })).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::NOT_FOUND, "link_not_found_or_expired"),
            "{to}: {}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_4_a_locked_account_is_refused_everywhere_and_an_import_does_not_open_it() {
    let env = Env::start().await;
    env.set_clock("2026-11-01T09:00:00+09:00").await;
    let op = env.token("0000000009");
    // A new account with an outstanding activation key, and an activated one with a session.
    let reply =
        import(&env, "jsonl", jsonl(&[record("2100000008", "student", "2026-04-01", "2030-03-31")])).await.json();
    let key = key_of(&reply, "2100000008");
    let session =
        env.login("utokyo", "0000000001", "Demo-Student-1").await.json()["token"].as_str().unwrap().to_owned();
    let lock = |account: &'static str, body: serde_json::Value| {
        let (env, op) = (&env, op.clone());
        async move { env.put(&format!("/api/admin/accounts/{account}/lock"), Some(&op), body).await }
    };
    let no_reason = lock("0000000001", json!({ "locked": true })).await;
    assert_eq!((no_reason.status, no_reason.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    // A reason longer than openapi's maxLength is refused to open an account too (schemathesis).
    for locked in [true, false] {
        let long = lock("0000000001", json!({ "locked": locked, "reason": "o".repeat(501) })).await;
        assert_eq!((long.status, long.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{locked}");
    }
    let not_operator =
        env.put("/api/admin/accounts/0000000002/lock", Some(&session), json!({ "locked": true, "reason": "x" })).await;
    assert_eq!(not_operator.code(), "operator_required");
    for account in ["0000000001", "2100000008"] {
        let r = lock(account, json!({ "locked": true, "reason": "本人から不正利用の申告 / reported misuse" })).await;
        assert_eq!((r.status, r.json()["locked"].clone()), (StatusCode::OK, json!(true)), "{}", r.text);
    }
    assert_eq!(lock("0000000077", json!({ "locked": true, "reason": "x" })).await.status, StatusCode::NOT_FOUND);
    // The session already issued, the login (the one answer of R-LOGIN-2), the key.
    assert_eq!(env.get("/api/me", Some(&session)).await.status, StatusCode::UNAUTHORIZED);
    let login = env.login("utokyo", "0000000001", "Demo-Student-1").await;
    let wrong = env.login("utokyo", "0000000004", "Demo-Wrong-0").await;
    assert_eq!((login.status, &login.text), (StatusCode::UNAUTHORIZED, &wrong.text));
    let activation = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "2100000008", "activation_key": key, "password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(activation.code(), "invalid_activation_key", "{}", activation.text);
    // The registrar's file again: the lock stays.
    let again = import(&env, "jsonl", jsonl(&[record("2100000008", "student", "2026-04-01", "2031-03-31")])).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let view = env.get("/api/admin/accounts/2100000008", Some(&op)).await.json();
    assert_eq!(view["lock"]["reason"], "本人から不正利用の申告 / reported misuse", "{view}");
    assert_eq!(view["lock"]["by"], "0000000009");
    let audit = env.app().store.audit_of("utokyo#0000000001", 5).await.unwrap();
    assert_eq!(audit[0].action, "account.locked");
    // Opened again by the help desk (a minute later, so that the audit records are in order):
    // the person logs in; the old session stays ended.
    env.set_clock("2026-11-01T09:01:00+09:00").await;
    let open = lock("0000000001", json!({ "locked": false })).await;
    assert_eq!((open.status, open.json()["locked"].clone()), (StatusCode::OK, json!(false)));
    assert_eq!(env.login("utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
    assert_eq!(env.get("/api/me", Some(&session)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(env.app().store.audit_of("utokyo#0000000001", 1).await.unwrap()[0].action, "account.unlocked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_7_impersonating_addresses_and_invisible_characters_in_names_are_refused() {
    let env = Env::start().await;
    let t = env.token("0000000001");
    for bad in ["helpdesk-eccs", "eccs-support", "utokyo.official", "security-team"] {
        let r = env.put("/api/cloud-mail/address", Some(&t), json!({ "address": bad })).await;
        assert_eq!(r.code(), "invalid_address", "{bad}: {}", r.text);
        assert_eq!(r.json()["error"]["details"]["reasons"], json!(["reserved"]), "{bad}");
    }
    for name in ["新入\u{200B}花子", "Hanako \u{202E}uynnihS"] {
        let mut r = record("2100000009", "student", "2026-04-01", "2030-03-31");
        r["name_en"] = json!(name);
        r["name_ja"] = json!(name);
        let reply = import(&env, "jsonl", jsonl(&[r])).await;
        assert_eq!(reply.code(), "import_invalid", "{name:?}: {}", reply.text);
        assert!(reply.text.contains("invisible"), "{}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_and_loose_dates_are_bad_requests() {
    let env = Env::start().await;
    let faculty = env.token("0000000004");
    let dup = env
        .raw(
            Method::PUT,
            "/api/remote-access",
            Some(&faculty),
            Some(br#"{"enabled": false, "enabled": true}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!((dup.status, dup.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", dup.text);
    assert!(dup.text.contains("duplicate field"), "{}", dup.text);
    let date = env.today() + chrono::Duration::days(10);
    for bad in [format!("+{date}"), format!("{date} "), date.format("%Y/%m/%d").to_string()] {
        let r =
            env.post("/api/applications", Some(&faculty), json!({ "type": "eccs_suspension", "stop_date": bad })).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{bad:?}: {}", r.text);
    }
    assert_eq!(env.get("/api/applications", Some(&faculty)).await.json()["items"], json!([]), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_3_a_forwarding_request_from_before_a_reset_or_a_lock_dies_with_it() {
    let sink = crate::harness::SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let op = env.token("0000000009");
    // The attacker, with the password, asks to forward both accounts' mail.
    for (account, password) in [("0000000001", "Demo-Student-1"), ("0000000004", "Demo-Faculty-4")] {
        let r = env
            .put(
                "/api/cloud-mail/forwarding",
                Some(&env.token(account)),
                json!({ "address": format!("attacker{account}@example.net"), "current_password": password }),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    }
    env.set_clock("2026-11-22T10:05:00+09:00").await;
    // 0000000001 recovers by a reset at the desk; 0000000004 is locked and opened again.
    let reset = env
        .post(
            "/api/admin/accounts/0000000001/activation-key",
            Some(&op),
            json!({ "action": "issue", "in_person_check": { "document": "student_id_card" } }),
        )
        .await;
    let key = reset.json()["activation_key"].as_str().unwrap().to_owned();
    let activated = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "0000000001", "activation_key": key, "password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    for locked in [true, false] {
        let body = if locked { json!({ "locked": true, "reason": "x" }) } else { json!({ "locked": false }) };
        assert_eq!(env.put("/api/admin/accounts/0000000004/lock", Some(&op), body).await.status, StatusCode::OK);
    }
    env.set_clock("2026-11-22T10:10:00+09:00").await;
    for to in ["attacker0000000001@example.net", "attacker0000000004@example.net"] {
        let m = sink.messages().into_iter().find(|m| m.to == to).expect("the confirmation");
        let token = crate::services::link_token(&m.body, "#/forwarding/");
        let r = env.post("/api/cloud-mail/forwarding/confirm", None, json!({ "token": token })).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (StatusCode::NOT_FOUND, "link_not_found_or_expired"),
            "{to}: {}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_cred_2_a_flood_of_refused_attempts_does_not_push_the_real_ones_out() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let own = Env::client_from("127.0.0.30");
    assert_eq!(env.login_with(&own, "utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
    let attacker = Env::client_from("127.0.0.2");
    for _ in 0..30 {
        env.login_with(&attacker, "utokyo", "0000000001", "Guess-0").await;
    }
    let items = env.get("/api/account/sign-ins", Some(&env.token("0000000001"))).await.json()["items"].clone();
    let locked = items.as_array().unwrap().iter().filter(|i| i["result"] == "locked").count();
    assert_eq!(locked, 1, "one record for the refused source and window: {items}");
    assert!(
        items.as_array().unwrap().iter().any(|i| i["result"] == "success" && i["source_ip"] == "127.0.0.30"),
        "the owner's own sign-in is still there: {items}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_sec_3_a_confirmed_forwarding_is_cancelled_by_a_password_change_before_minute_0() {
    let sink = crate::harness::SmtpSink::start().await;
    let env = Env::with(eccs_local::Options { smtp_url: Some(sink.url.clone()), ..Env::options() }).await;
    env.set_clock("2026-11-22T10:10:00+09:00").await;
    let t = env.token("0000000001");
    let asked = env
        .put(
            "/api/cloud-mail/forwarding",
            Some(&t),
            json!({ "address": "attacker@example.net", "current_password": "Demo-Student-1" }),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    let m = sink.messages().into_iter().find(|m| m.to == "attacker@example.net").unwrap();
    let token = crate::services::link_token(&m.body, "#/forwarding/");
    assert_eq!(
        env.post("/api/cloud-mail/forwarding/confirm", None, json!({ "token": token })).await.status,
        StatusCode::OK
    );
    // The owner reads the notice and changes the password before 11:00.
    env.set_clock("2026-11-22T10:20:00+09:00").await;
    let changed = env
        .put(
            "/api/account/password",
            Some(&t),
            json!({ "current_password": "Demo-Student-1", "new_password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    env.set_clock("2026-11-22T11:00:00+09:00").await;
    let run = env.run("sync-hourly", json!({})).await;
    assert_eq!(run["applied"], 0, "{run}");
    let fresh = env.login("utokyo", "0000000001", "Vq7#tLm2-Xs8").await.json()["token"].as_str().unwrap().to_owned();
    let view = env.get("/api/cloud-mail/forwarding", Some(&fresh)).await.json();
    assert_eq!((view["address"].clone(), view["pending"].clone()), (json!(null), json!(null)), "{view}");
    let audit = env.app().store.audit_of("utokyo#0000000001", 10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "mail_forwarding.cancelled"), "{audit:?}");
}
