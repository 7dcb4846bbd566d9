//! The account lifecycle, R-LC-1..4: the registrar's import, activation keys, activation, and
//! the identity verification a password reset needs.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::store::s;

use crate::harness::Env;

pub fn record(id: &str, kind: &str, from: &str, until: &str) -> Value {
    json!({
        "id": id, "kind": kind, "name_ja": "新入 花子", "name_en": "Hanako Shinnyu", "department_code": "D03",
        "department_ja": "理学部", "department_en": "Faculty of Science", "valid_from": from, "valid_until": until,
    })
}

pub fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

pub async fn import(env: &Env, format: &str, data: String) -> crate::harness::Response {
    env.post("/api/admin/accounts/import", Some(&env.token("0000000009")), json!({ "format": format, "data": data }))
        .await
}

pub fn key_of(reply: &Value, account: &str) -> String {
    reply["activation_keys"].as_array().unwrap().iter().find(|k| k["account"] == account).unwrap()["activation_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_1_2_import_creates_accounts_with_keys_and_importing_again_changes_nothing() {
    let env = Env::start().await;
    env.set_clock("2026-11-22T10:00:00+09:00").await;
    let file = jsonl(&[
        record("2100000001", "student", "2026-04-01", "2030-03-31"),
        record("2100000002", "staff", "2026-10-01", "2029-03-31"),
    ]);
    let first = import(&env, "jsonl", file.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let reply = first.json();
    assert_eq!(
        (reply["created"].clone(), reply["updated"].clone(), reply["unchanged"].clone()),
        (json!(2), json!(0), json!(0))
    );
    assert_eq!(reply["activation_keys"][0]["expires_at"], "2026-12-22T10:00:00+09:00", "30 days");
    let lookup = env.get("/api/admin/accounts/2100000001", Some(&env.token("0000000009"))).await;
    let view = lookup.json();
    assert_eq!(view["right"]["valid"], true, "R-LC-2: a student has the right with the enrolment");
    assert_eq!(
        (view["activation"]["outstanding"].clone(), view["profile"]["initial_password_changed"].clone()),
        (json!(true), json!(false))
    );
    let staff = env.get("/api/admin/accounts/2100000002", Some(&env.token("0000000009"))).await.json();
    assert_eq!(staff["right"]["valid"], false, "staff apply for the right");
    let key = key_of(&reply, "2100000001");
    let everything = env.dump_all().await;
    assert!(!everything.contains(&key) && !everything.contains(&key.replace('-', "")), "only the key's hash is stored");
    assert!(!lookup.text.contains(&key), "and the lookup does not show it");
    // The same file again: nothing changes, nothing is written.
    let audit_before = env.dump("audit").await.len();
    let again = import(&env, "jsonl", file).await.json();
    assert_eq!(
        (again["created"].clone(), again["unchanged"].clone(), again["activation_keys"].clone()),
        (json!(0), json!(2), json!([]))
    );
    assert_eq!(env.dump("audit").await.len(), audit_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_1_csv_imports_like_jsonl_and_a_bad_line_refuses_the_whole_file() {
    let env = Env::start().await;
    let csv = "id,kind,name_ja,name_en,department_code,department_ja,department_en,valid_from,valid_until\n\
               2100000003,faculty,教員 三郎,Saburo Kyoin,D02,工学部,Faculty of Engineering,2026-04-01,2031-03-31\n\
               2100000004,student,学生 四郎,Shiro Gakusei,D02,工学部,Faculty of Engineering,2027-04-01,2026-03-31\n\
               12345-6,student,学生 五郎,Goro Gakusei,D02,工学部,Faculty of Engineering,2026-04-01,2030-03-31\n";
    let r = import(&env, "csv", csv.into()).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "import_invalid"), "{}", r.text);
    let lines: Vec<u64> =
        r.json()["error"]["details"]["lines"].as_array().unwrap().iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4]);
    assert_eq!(
        env.get("/api/admin/accounts/2100000003", Some(&env.token("0000000009"))).await.status,
        StatusCode::NOT_FOUND,
        "nothing imported"
    );
    let good: String = csv.lines().take(2).map(|l| format!("{l}\n")).collect();
    // A dry run checks the lines and writes nothing (the UI checks every part of a file first).
    let op = env.token("0000000009");
    let body = |dry_run| json!({ "format": "csv", "data": good, "dry_run": dry_run });
    let checked = env.post("/api/admin/accounts/import", Some(&op), body(true)).await;
    assert_eq!(checked.json(), json!({ "checked": 1, "ignored_columns": [] }), "{}", checked.text);
    let dry_bad = json!({ "format": "csv", "data": csv, "dry_run": true });
    assert_eq!(env.post("/api/admin/accounts/import", Some(&op), dry_bad).await.code(), "import_invalid");
    let lookup = env.get("/api/admin/accounts/2100000003", Some(&op)).await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND, "the dry run wrote nothing");
    let r = env.post("/api/admin/accounts/import", Some(&op), body(false)).await;
    assert_eq!(r.json()["created"], 1, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_1_a_returning_student_keeps_the_id_and_a_student_who_becomes_staff_keeps_it_too() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    // 1000000000 left and was revoked.
    env.app()
        .store
        .db
        .update_item()
        .table_name(&env.app().store.tables.accounts)
        .key("pk", s("utokyo#1000000000"))
        .update_expression("SET #s = :r")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":r", s("revoked"))
        .send()
        .await
        .unwrap();
    let today = env.today();
    let until = (today + chrono::Duration::days(900)).to_string();
    let reply =
        import(&env, "jsonl", jsonl(&[record("1000000000", "student", &today.to_string(), &until)])).await.json();
    assert_eq!((reply["updated"].clone(), reply["created"].clone()), (json!(1), json!(0)));
    let back = env.get("/api/admin/accounts/1000000000", Some(&op)).await.json();
    assert_eq!((back["status"].clone(), back["right"]["valid_until"].clone()), (json!("active"), json!(until)));
    assert_eq!(back["mail_address"], "1000000000@g.ecc.u-tokyo.ac.jp", "the same account, its mail kept");
    assert_eq!(env.login("utokyo", "1000000000", "Demo-Bulk-Pass").await.status, StatusCode::OK, "and its password");
    // 0000000001, a student, becomes staff.
    let reply = import(&env, "jsonl", jsonl(&[record("0000000001", "staff", &today.to_string(), &until)])).await.json();
    assert_eq!(reply["updated"], 1);
    let me = env.get("/api/me", Some(&env.token("0000000001"))).await.json();
    assert_eq!(me["profile"]["kind"], "staff");
    assert_eq!(me["menus"]["eccs_suspension"]["available"], true, "the application menu is now theirs");
    let audit = env.app().store.audit_of("utokyo#0000000001", 5).await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].actor.as_str()), ("account.updated", "utokyo#0000000009"));
    assert_eq!(audit[0].before["kind"], "student");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_3_activation_sets_the_password_once_and_wrong_keys_count_toward_the_lockout() {
    let env = Env::start().await;
    let reply =
        import(&env, "jsonl", jsonl(&[record("2100000005", "student", "2026-04-01", "2030-03-31")])).await.json();
    let key = key_of(&reply, "2100000005");
    assert_eq!(
        env.login("utokyo", "2100000005", "").await.status,
        StatusCode::UNAUTHORIZED,
        "no password before activation"
    );
    let weak = env
        .post("/api/activation", None, json!({ "account": "2100000005", "activation_key": key, "password": "hanako" }))
        .await;
    assert_eq!((weak.status, weak.code().as_str()), (StatusCode::BAD_REQUEST, "password_policy"), "R-PWD applies");
    let lower = key.to_lowercase().replace('-', " ");
    let ok = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "2100000005", "activation_key": lower, "password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let me = env.login("utokyo", "2100000005", "Vq7#tLm2-Xs8").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["account"]["initial_password_changed"], true);
    let reused = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "2100000005", "activation_key": key, "password": "Zw4%pLq8-Nb2" }),
        )
        .await;
    assert_eq!(
        (reused.status, reused.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_activation_key"),
        "one time only"
    );
    for _ in 0..4 {
        let r = env
            .post(
                "/api/activation",
                None,
                json!({ "account": "2100000005", "activation_key": "0000-0000-0000-0000", "password": "Zw4%pLq8-Nb2" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        env.login("utokyo", "2100000005", "Vq7#tLm2-Xs8").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "R-LOGIN-3 counts wrong keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_3_a_right_key_with_weak_passwords_is_not_locked_out() {
    // A student with the right key whose first tries fall short of R-PWD: each is a 400 that
    // says why, and none is counted as a guess of the key.
    let env = Env::start().await;
    let reply =
        import(&env, "jsonl", jsonl(&[record("2100000007", "student", "2026-04-01", "2030-03-31")])).await.json();
    let key = key_of(&reply, "2100000007");
    for weak in ["hanako", "password1", "2100000007", "short", "aaaaaaaaaaaa", "Password123"] {
        let r = env
            .post("/api/activation", None, json!({ "account": "2100000007", "activation_key": key, "password": weak }))
            .await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "password_policy"), "{weak}: {}", r.text);
    }
    let ok = env
        .post(
            "/api/activation",
            None,
            json!({ "account": "2100000007", "activation_key": key, "password": "Vq7#tLm2-Xs8" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "the seventh try, the first strong password: {}", ok.text);
    assert_eq!(env.login("utokyo", "2100000007", "Vq7#tLm2-Xs8").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_3_an_expired_key_is_refused_until_extended_and_a_new_key_replaces_the_old() {
    let env = Env::start().await;
    env.set_clock("2026-11-01T09:00:00+09:00").await;
    let reply =
        import(&env, "jsonl", jsonl(&[record("2100000006", "faculty", "2026-04-01", "2031-03-31")])).await.json();
    let key = key_of(&reply, "2100000006");
    env.set_clock("2026-12-01T09:00:01+09:00").await;
    let activate = |key: String| {
        let env = &env;
        async move {
            env.post(
                "/api/activation",
                None,
                json!({ "account": "2100000006", "activation_key": key, "password": "Vq7#tLm2-Xs8" }),
            )
            .await
        }
    };
    assert_eq!(activate(key.clone()).await.code(), "invalid_activation_key", "expired after 30 days");
    let op = env.token("0000000009");
    let extended = env
        .post("/api/admin/accounts/2100000006/activation-key", Some(&op), json!({ "action": "extend", "days": 14 }))
        .await;
    assert_eq!(
        (extended.status, extended.json()["expires_at"].clone()),
        (StatusCode::OK, json!("2026-12-15T09:00:01+09:00"))
    );
    let reissued =
        env.post("/api/admin/accounts/2100000006/activation-key", Some(&op), json!({ "action": "issue" })).await;
    assert_eq!(
        reissued.status,
        StatusCode::CREATED,
        "a never-activated account needs no verification: {}",
        reissued.text
    );
    let new_key = reissued.json()["activation_key"].as_str().unwrap().to_owned();
    assert_eq!(activate(key).await.code(), "invalid_activation_key", "the old key stops working");
    assert_eq!(activate(new_key).await.status, StatusCode::OK);
    let none =
        env.post("/api/admin/accounts/2100000006/activation-key", Some(&op), json!({ "action": "extend" })).await;
    assert_eq!((none.status, none.code().as_str()), (StatusCode::CONFLICT, "no_activation_key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_3_extending_adds_the_days_to_the_current_expiry() {
    let env = Env::start().await;
    env.set_clock("2026-11-01T09:00:00+09:00").await;
    import(&env, "jsonl", jsonl(&[record("2100000007", "faculty", "2026-04-01", "2031-03-31")])).await;
    env.set_clock("2026-11-10T12:00:00+09:00").await;
    let op = env.token("0000000009");
    let extend = |days: i64| {
        let (env, op) = (&env, op.clone());
        async move {
            env.post(
                "/api/admin/accounts/2100000007/activation-key",
                Some(&op),
                json!({ "action": "extend", "days": days }),
            )
            .await
        }
    };
    // Valid until 2026-12-01 09:00: one more day is 2026-12-02 09:00, never "a day from now".
    let once = extend(1).await;
    assert_eq!((once.status, once.json()["expires_at"].clone()), (StatusCode::OK, json!("2026-12-02T09:00:00+09:00")));
    let twice = extend(10).await;
    assert_eq!(twice.json()["expires_at"], "2026-12-12T09:00:00+09:00", "{}", twice.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_4_a_password_reset_needs_an_in_person_check_the_self_set_link_waives_nothing() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    let reset = |body: Value| {
        let (env, op) = (&env, op.clone());
        async move { env.post("/api/admin/accounts/0000000001/activation-key", Some(&op), body).await }
    };
    let refused = reset(json!({ "action": "issue" })).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::CONFLICT, "identity_verification_required"));
    let free_text = reset(json!({ "action": "issue", "in_person_check": { "document": "card no. 1234-5678" } })).await;
    assert_eq!(free_text.code(), "bad_request", "a kind of document from the list, never free text");
    let in_person = reset(json!({ "action": "issue", "in_person_check": { "document": "student_id_card" } })).await;
    assert_eq!(in_person.status, StatusCode::CREATED, "{}", in_person.text);
    let audit = env.app().store.audit_of("utokyo#0000000001", 1).await.unwrap();
    assert_eq!(audit[0].action, "activation_key.reset");
    assert_eq!(
        audit[0].after["verification"]["in_person_check"],
        json!({ "document": "student_id_card", "checked_by": "0000000009" })
    );
    assert!(
        !format!("{:?}", audit[0]).contains(in_person.json()["activation_key"].as_str().unwrap()),
        "no key in the audit"
    );
    // The flag of earlier versions (`PUT /api/identity-link {linked}`) is gone: only the verified
    // OpenID Connect link of R-CRED-4 waives the in-person check (identity.rs).
    let flag = env.put("/api/identity-link", Some(&env.token("0000000001")), json!({ "linked": true })).await;
    assert_eq!(flag.status, StatusCode::METHOD_NOT_ALLOWED, "{}", flag.text);
    assert_eq!(env.get("/api/me", Some(&env.token("0000000001"))).await.json()["profile"]["identity_linked"], false);
    let waived = reset(json!({ "action": "issue" })).await;
    assert_eq!((waived.status, waived.code().as_str()), (StatusCode::CONFLICT, "identity_verification_required"));
    // The old password still works until the person activates the new key.
    assert_eq!(env.login("utokyo", "0000000001", "Demo-Student-1").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_only_see_lookups_audit_logs_and_runs_without_secrets() {
    let env = Env::start().await;
    let op = env.token("0000000009");
    env.put("/api/remote-access", Some(&env.token("0000000001")), json!({ "enabled": true })).await;
    let audit = env.get("/api/admin/accounts/0000000001/audit", Some(&op)).await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(audit.json()["items"][0]["action"], "remote_access.on");
    let lookup = env.get("/api/admin/accounts/0000000001", Some(&op)).await;
    assert!(!lookup.text.contains("argon2") && !lookup.text.contains("password_hash"), "{}", lookup.text);
    assert_eq!(env.get("/api/admin/accounts/0000000077", Some(&op)).await.status, StatusCode::NOT_FOUND);
    env.run("sync-hourly", json!({})).await;
    let runs = env.get("/api/admin/runs", Some(&op)).await.json();
    assert_eq!(runs["sync_hourly"].as_array().unwrap().len(), 1);
    for path in ["/api/admin/accounts/0000000001", "/api/admin/accounts/0000000001/audit", "/api/admin/runs"] {
        let r = env.get(path, Some(&env.token("0000000005"))).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "operator_required"), "{path}");
    }
    // The operator and the account asked about are one read: the operator's own account too.
    let own = env.get("/api/admin/accounts/0000000009", Some(&op)).await;
    assert_eq!(
        (own.status, own.json()["profile"]["account"].as_str()),
        (StatusCode::OK, Some("0000000009")),
        "{}",
        own.text
    );
    assert_eq!(env.get("/api/admin/accounts/0000000077/audit", Some(&op)).await.status, StatusCode::NOT_FOUND);
    // Whether an account exists is not told to anyone but an operator, and an operator's bad
    // request is a 400, not the 404.
    let student = env.token("0000000005");
    for path in ["/api/admin/accounts/0000000077", "/api/admin/accounts/0000000077/audit"] {
        let r = env.get(path, Some(&student)).await;
        assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "operator_required"), "{path}");
    }
    let r = env.put("/api/admin/accounts/0000000077/renewal", Some(&student), json!({ "pending": true })).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "operator_required"));
    let r = env.put("/api/admin/accounts/0000000077/renewal", Some(&op), json!({})).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    let r = env.put("/api/admin/accounts/0000000077/lock", Some(&op), json!({ "locked": true, "reason": "x" })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}
