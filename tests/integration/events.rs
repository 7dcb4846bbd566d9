//! Every file in `events/` runs through the invoke path (`eccs-local invoke`, as `sam local
//! invoke` would) on fresh demo data, and answers what `events/expectations.json` says.

use std::collections::BTreeMap;
use std::path::Path;

use eccs_local::engine::Storage;
use futures::StreamExt;
use serde_json::Value;
use shared::config::KeySource;

use crate::harness::{Moto, test_key};

fn events_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"))
}

fn event_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(events_dir()).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
        for file in std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()) {
            files.push(format!("{}/{}", dir.file_name().to_string_lossy(), file.file_name().to_string_lossy()));
        }
    }
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_file_runs_through_invoke_with_its_expected_answer() {
    let manifest: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("expectations.json")).unwrap()).unwrap();
    assert_eq!(manifest.keys().cloned().collect::<Vec<_>>(), event_files(), "expectations.json lists every event file");
    let covered: std::collections::BTreeSet<String> =
        manifest.keys().map(|k| k.split('/').next().unwrap().to_owned()).collect();
    let functions: std::collections::BTreeSet<String> =
        eccs_local::functions::all().into_iter().map(|(d, _)| d.to_owned()).collect();
    assert_eq!(covered, functions, "at least one event per function");
    // The ops function needs an EventBridge Scheduler with the template's schedules: moto.
    let moto = Moto::start().await;
    let settings = shared::config::Schedules { endpoint: Some(moto.endpoint.clone()), ..Default::default() };
    crate::ops::create_template_schedules(&eccs_schedules::client(&settings).unwrap()).await;
    // Each event on its own fresh data, four at a time.
    let endpoint = moto.endpoint.clone();
    let runs = manifest.into_iter().map(|(file, expected)| {
        let endpoint = endpoint.clone();
        async move {
            let key = Some(KeySource::Pem(test_key().into()));
            let (_engine, app, _) =
                eccs_local::prepare(&Storage::Memory, "http://127.0.0.1:3000", key, true, Some(endpoint))
                    .await
                    .unwrap();
            let text = std::fs::read_to_string(events_dir().join(&file)).unwrap();
            let function = file.split('/').next().unwrap();
            let out = eccs_local::invoke(&app, function, &text).await.unwrap_or_else(|e| panic!("{file}: {e}"));
            (file, expected, out)
        }
    });
    let results: Vec<_> = futures::stream::iter(runs).buffer_unordered(4).collect().await;
    for (file, expected, out) in results {
        match expected {
            Value::Number(status) => {
                assert_eq!(out["statusCode"], Value::Number(status), "{file}: {out}");
                if file.starts_with("web/") {
                    assert!(
                        out["headers"]["content-security-policy"].as_str().unwrap().contains("default-src 'none'"),
                        "{file}"
                    );
                    continue;
                }
                let body: Value = serde_json::from_str(out["body"].as_str().unwrap_or("null")).unwrap();
                assert!(body.is_object(), "{file}: JSON body");
                assert_eq!(out["headers"]["content-type"], "application/json; charset=utf-8", "{file}");
            }
            _ => {
                assert!(out.get("stopped").is_some() || out.get("schedules").is_some(), "{file}: a summary, got {out}")
            }
        }
    }
}
