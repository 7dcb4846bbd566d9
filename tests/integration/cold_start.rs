//! The functions as Lambda starts them (#17, R-OPS): the real binaries, each started with the
//! template's kind of environment and nothing of this shell's, under a Lambda runtime API on
//! loopback. So `App::from_env` runs as it does in AWS: its configuration from the environment,
//! the session's private key read from Secrets Manager (a stand-in on loopback that notes every
//! call), the embedded engine as DynamoDB. The other tests build their `App` in-process
//! (`App::local`); only this one reaches the production wiring of a cold start.
//!
//! The binaries are the test profile's (`target/debug/`), built by scripts/test.sh before the
//! tests run (`cargo build --profile test -p eccs-session -p eccs-me`); one older than its
//! sources is refused, not tested. The tables have a stack's names, passed as the template does.

use std::path::PathBuf;
use std::time::Duration;

use eccs_local::engine::Storage;
use eccs_local::lambda::{Calls, RuntimeApi, public_pem, secrets_manager, serve};
use serde_json::{Value, json};
use shared::config::KeySource;

use crate::harness::test_key;

const PRIVATE_KEY_SECRET: &str = "eccs/jwt-private-key";
const ISSUER: &str = "http://127.0.0.1:3000";

const BUILD: &str = "scripts/test.sh builds it first (cargo build --profile test -p eccs-session -p eccs-me)";

/// The function binary `name`, refused if older than any source it was built from (the files its
/// dep-info lists): a plain `cargo test` after an edit would otherwise test the last build.
fn binary(name: &str) -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let dir = std::env::var("ECCS_FUNCTION_BINARIES").map(PathBuf::from).unwrap_or_else(|_| root.join("target/debug"));
    let path = dir.join(name);
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {BUILD}", path.display()));
    let dep_info = std::fs::read_to_string(dir.join(format!("{name}.d"))).unwrap_or_default();
    let sources = dep_info.split_once(": ").map(|(_, files)| files).unwrap_or_default();
    let newer = sources
        .replace("\\ ", "\0")
        .split_whitespace()
        .map(|f| PathBuf::from(f.replace('\0', " ")))
        .find(|f| std::fs::metadata(f).and_then(|m| m.modified()).is_ok_and(|changed| changed > built));
    if let Some(newer) = newer {
        panic!("{} is older than {}: {BUILD}", path.display(), newer.display());
    }
    path
}

/// What one start gave: the runtime API's answer (`None`: the process ended without one), its
/// exit status if it ended, and everything it wrote (its log lines).
struct Started {
    answer: Option<(&'static str, Value)>,
    exited: Option<std::process::ExitStatus>,
    output: String,
}

/// Starts `binary` with Lambda's variables, `env` and nothing else, and hands it `event`.
async fn start(binary: &PathBuf, env: &[(&str, String)], event: Value) -> Started {
    let api = RuntimeApi::serve(&event).await.unwrap();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_FUNCTION_NAME", "test"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "test"),
            ("AWS_LAMBDA_RUNTIME_API", api.address.as_str()),
            ("AWS_REGION", "ap-northeast-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("JWT_ISSUER", ISSUER),
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let exited = tokio::select! {
        () = api.answered() => None,
        status = child.wait() => Some(status.unwrap()),
        () = tokio::time::sleep(Duration::from_secs(60)) => panic!("{} neither answered nor ended in 60 s", binary.display()),
    };
    let _ = child.kill().await;
    let mut output = String::new();
    for pipe in [&mut stdout as &mut (dyn tokio::io::AsyncRead + Unpin), &mut stderr] {
        let mut bytes = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(pipe, &mut bytes).await;
        output.push_str(&String::from_utf8_lossy(&bytes));
    }
    let answer = api.answer().map(|a| (if a.ok { "response" } else { "error" }, a.body));
    Started { answer, exited, output }
}

fn event(path: &str) -> Value {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/").to_owned() + path;
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_ops_the_functions_start_from_their_environment_as_in_aws() {
    let (session_bin, me_bin) = (binary("eccs-session"), binary("eccs-me"));
    let pem = test_key();
    let key = || Some(KeySource::Pem(pem.clone().into()));
    // The tables under a stack's names, as the template passes them (ACCOUNTS_TABLE, …); the
    // local names exist too, empty: a function that read the wrong variable would find no one.
    let (engine, _, _) = eccs_local::prepare(&Storage::Memory, ISSUER, key(), false, None).await.unwrap();
    let prefix = "eccs-prod-";
    let stack = Storage::External { endpoint: engine.endpoint.clone(), prefix: prefix.to_owned() };
    eccs_local::prepare(&stack, ISSUER, key(), true, None).await.unwrap();
    let tables: Vec<(&str, String)> =
        shared::config::Tables::ALL.iter().map(|(var, local)| (*var, format!("{prefix}{local}"))).collect();
    let calls = Calls::default();
    let secrets = secrets_manager([(PRIVATE_KEY_SECRET.to_owned(), pem.clone())].into(), calls.clone());
    let secrets_endpoint = format!("http://{}", serve(secrets).await.unwrap());
    let public = public_pem(&pem).unwrap();
    let mut common = vec![
        ("DYNAMODB_ENDPOINT", engine.endpoint.clone()),
        ("SECRETSMANAGER_ENDPOINT", secrets_endpoint),
        // As the template's JwtPublicKeyPem parameter carries it: one line, breaks as spaces.
        ("JWT_PUBLIC_KEY", public.replace(['\r', '\n'], " ")),
    ];
    common.extend(tables);

    // The session: its private key from Secrets Manager, one call at cold start; a real login.
    let mut session_env = common.clone();
    session_env.push(("JWT_PRIVATE_KEY_SECRET", PRIVATE_KEY_SECRET.to_owned()));
    let login = start(&session_bin, &session_env, event("session/login.json")).await;
    let (kind, answer) = login.answer.unwrap_or_else(|| panic!("no answer; exit {:?}: {}", login.exited, login.output));
    assert_eq!(kind, "response", "{answer}");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(calls.all(), ["Secrets Manager GetSecretValue"], "one read, of the private key");
    // Signed with the key read from Secrets Manager: an independent library checks it against the
    // public key the template publishes.
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["eccs"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key.unwrap(), &validation).unwrap().claims;
    assert_eq!(claims["sub"], "0000000001");
    assert!(!login.output.contains(pem.lines().nth(1).unwrap()), "the private key never reaches a log");
    assert!(!login.output.contains(&token), "the token never reaches a log");

    // me: the public key from the environment, no call to Secrets Manager; the session's token works.
    let mut me_event = event("me/get.json");
    me_event["headers"]["authorization"] = Value::String(format!("Bearer {token}"));
    let me = start(&me_bin, &common, me_event).await;
    let (kind, answer) = me.answer.unwrap_or_else(|| panic!("no answer; exit {:?}: {}", me.exited, me.output));
    assert_eq!((kind, &answer["statusCode"]), ("response", &json!(200)), "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["profile"]["account"], "0000000001", "{body}");
    assert_eq!(calls.all().len(), 1, "me reads no secret");

    // A private key's secret that is not there: the cold start fails, naming the secret, and the
    // process ends instead of answering with a function that cannot sign.
    let mut missing = common.clone();
    missing.push(("JWT_PRIVATE_KEY_SECRET", "eccs/not-there".to_owned()));
    let failed = start(&session_bin, &missing, event("session/login.json")).await;
    assert!(failed.exited.is_some_and(|s| !s.success()), "exit {:?}, answer {:?}", failed.exited, failed.answer);
    assert!(
        failed.output.contains("cold start failed") && failed.output.contains("eccs/not-there"),
        "{}",
        failed.output
    );
}
