//! The template, the workspace and the events agree: every function in `infra/template.yaml` is
//! a workspace binary built with cargo-lambda, every function crate is in the template and in the
//! local runner, every table the code names is declared, and every schedule runs in Tokyo time.

use std::collections::BTreeSet;
use std::path::Path;

use eccs_local::template::Template;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_template_function_is_a_workspace_binary_and_the_reverse() {
    let template = Template::embedded().unwrap();
    let declared: BTreeSet<String> = template.functions.iter().map(|f| f.dir.clone()).collect();
    assert_eq!(declared, function_crates(), "template functions vs functions/*");
    let registry: BTreeSet<String> = eccs_local::functions::all().into_iter().map(|(d, _)| d.to_owned()).collect();
    assert_eq!(registry, function_crates(), "local runner vs functions/*");
    for f in &template.functions {
        assert_eq!(f.build_method.as_deref(), Some("rust-cargolambda"), "{}", f.logical_id);
        assert_eq!(
            f.code_uri,
            format!("../functions/{}", f.dir),
            "{}: CodeUri is relative to the template",
            f.logical_id
        );
        let manifest = std::fs::read_to_string(root().join("functions").join(&f.dir).join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("name = \"eccs-{}\"", f.dir)), "{}: unique binary name", f.dir);
        let main = std::fs::read_to_string(root().join("functions").join(&f.dir).join("src/main.rs")).unwrap();
        // One invocation at a time per environment: no worker threads (shared::edge::lambda).
        assert!(main.contains("#[tokio::main(flavor = \"current_thread\")]"), "{}: the current-thread runtime", f.dir);
        assert!(
            !f.routes.is_empty() || !f.schedules.is_empty() || f.dir == "schedules",
            "{}: nothing invokes it",
            f.logical_id
        );
    }
}

#[test]
fn the_template_declares_exactly_the_tables_the_code_uses() {
    let template = Template::embedded().unwrap();
    let declared: BTreeSet<String> = template.tables.iter().map(|t| t.local_name.clone()).collect();
    let used: BTreeSet<String> = shared::config::Tables::ALL.iter().map(|(_, name)| (*name).to_owned()).collect();
    assert_eq!(declared, used);
    let vars: BTreeSet<&str> = shared::config::Tables::ALL.iter().map(|(var, _)| *var).collect();
    for f in &template.functions {
        for var in f.environment.iter().filter(|v| v.ends_with("_TABLE")) {
            assert!(vars.contains(var.as_str()), "{} sets {var}, which the code does not read", f.logical_id);
        }
    }
}

#[test]
fn schedules_fire_at_minute_0_and_at_00_05_tokyo_time() {
    let template = Template::embedded().unwrap();
    let schedules: Vec<_> =
        template.functions.iter().flat_map(|f| f.schedules.iter().map(move |s| (f.dir.as_str(), s))).collect();
    assert_eq!(schedules.len(), 2);
    for (dir, s) in schedules {
        assert_eq!(s.timezone, "Asia/Tokyo");
        match dir {
            "sync-hourly" => assert_eq!(s.expression, "cron(0 * * * ? *)"),
            "sweep-daily" => assert_eq!(s.expression, "cron(5 0 * * ? *)"),
            other => panic!("unexpected schedule on {other}"),
        }
    }
}

#[test]
fn only_login_health_discovery_and_the_ui_are_open_routes() {
    let template = Template::embedded().unwrap();
    let open: BTreeSet<String> = template
        .functions
        .iter()
        .flat_map(|f| f.routes.iter().filter(|r| r.open).map(|r| format!("{} {}", r.method, r.path)))
        .collect();
    let expected: BTreeSet<String> = [
        "POST /api/session",
        // R-CRED-3: the second step of login, before any token.
        "POST /api/session/second-factor",
        "POST /api/activation",
        "POST /api/services/conferencing/accept",
        "POST /api/cloud-mail/forwarding/confirm",
        // R-CRED-4: the provider's redirects come back without a token; the reset is for someone
        // who cannot log in.
        "GET /api/identity-link/callback",
        "POST /api/password-reset/start",
        "GET /api/password-reset/callback",
        "POST /api/password-reset",
        "GET /api/health",
        "GET /.well-known/openid-configuration",
        "GET /.well-known/jwks.json",
        "GET /",
        "GET /{file}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(open, expected);
}

/// `(METHOD, path)` of every operation in `openapi.yaml`.
fn documented_routes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_hash().unwrap() {
        for method in item.as_hash().unwrap().keys().filter_map(|k| k.as_str()) {
            if ["get", "put", "post", "delete", "patch"].contains(&method) {
                routes.insert(format!("{} {}", method.to_uppercase(), path.as_str().unwrap()));
            }
        }
    }
    routes
}

#[test]
fn openapi_documents_exactly_the_routes_the_template_serves() {
    let template = Template::embedded().unwrap();
    // The API; the UI's static routes (the web function) are not part of it.
    let served: BTreeSet<String> = template
        .functions
        .iter()
        .filter(|f| f.dir != "web")
        .flat_map(|f| f.routes.iter().map(|r| format!("{} {}", r.method, r.path)))
        .collect();
    let documented = documented_routes();
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "served but not documented in openapi.yaml"
    );
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented but not served by any function"
    );
}

#[test]
fn openapi_lists_every_error_code_the_code_can_answer() {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    let documented: BTreeSet<String> =
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
    let answered: BTreeSet<String> = shared::ApiError::examples().iter().map(|e| e.code().to_owned()).collect();
    let internal: BTreeSet<String> = ["internal_error".to_owned()].into();
    assert_eq!(
        answered.difference(&documented).cloned().collect::<BTreeSet<_>>(),
        internal,
        "only a 500 is undocumented"
    );
    assert_eq!(documented.difference(&answered).count(), 0, "documented codes the code never answers");
}
