//! R-OPS-2: the schedules' run figures as CloudWatch metrics in Embedded Metric Format — one JSON
//! line on standard output per run, which CloudWatch Logs turns into metrics: no API call, no
//! client, nothing at cold start. The namespace is the stack's (`METRICS_NAMESPACE`, set by the
//! template), so two stacks never mix their figures (R-OPS-3); without one nothing is written.
//! The line carries counts and times only, never an account or an error text.

use serde_json::{Value, json};

use crate::store::runs::RunSummary;

/// The metric names, in the order they are declared; the alarms and the dashboard in
/// `infra/template.yaml` use the same names, with the dimension `Schedule`.
pub const METRICS: [(&str, &str); 10] = [
    ("Runs", "Count"),
    ("Applied", "Count"),
    ("Failed", "Count"),
    ("Remaining", "Count"),
    ("ItemsRead", "Count"),
    ("Duration", "Milliseconds"),
    ("MailSent", "Count"),
    ("MailFailed", "Count"),
    ("NoticesQueued", "Count"),
    ("LinksExpired", "Count"),
];

/// The EMF document of one run, stamped `timestamp_ms` (Unix milliseconds).
pub fn run_document(namespace: &str, run: &RunSummary, timestamp_ms: i64) -> Value {
    let values = [
        1,
        run.applied,
        run.failed,
        run.remaining,
        run.items_read,
        run.duration_ms,
        run.messages_sent,
        run.messages_failed,
        run.notices_queued,
        run.links_expired,
    ];
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Schedule"]],
                "Metrics": METRICS.iter().map(|(name, unit)| json!({ "Name": name, "Unit": unit })).collect::<Vec<_>>(),
            }],
        },
        "Schedule": run.pk,
        "request_id": run.request_id,
        "stopped": run.stopped,
    });
    if let Some(map) = doc.as_object_mut() {
        for ((name, _), value) in METRICS.iter().zip(values) {
            map.insert((*name).to_owned(), json!(value));
        }
    }
    doc
}

/// Writes the run's metrics line, when a namespace is configured.
pub fn publish_run(namespace: Option<&str>, run: &RunSummary, timestamp_ms: i64) {
    if let Some(namespace) = namespace {
        println!("{}", run_document(namespace, run, timestamp_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunSummary {
        RunSummary {
            pk: "sync-hourly".into(),
            sk: "20261122T020000.000Z".into(),
            request_id: "req-1".into(),
            started_at: "2026-11-22T11:00:00+09:00".into(),
            finished_at: "2026-11-22T11:00:02+09:00".into(),
            duration_ms: 1234,
            applied: 7,
            failed: 2,
            remaining: 3,
            items_read: 12,
            stopped: "budget".into(),
            failures: vec![crate::store::runs::RunFailure {
                account: "0000000001".into(),
                kind: "mail_address".into(),
                error: "mailbox locked".into(),
            }],
            notices_queued: 0,
            messages_sent: 4,
            messages_failed: 1,
            links_expired: 0,
        }
    }

    #[test]
    fn r_ops_2_every_declared_metric_has_its_value_and_the_dimension_is_set() {
        let doc = run_document("ECCS/prod", &run(), 1_795_310_400_000);
        let spec = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "ECCS/prod");
        assert_eq!(spec["Dimensions"], json!([["Schedule"]]));
        assert_eq!(doc["Schedule"], "sync-hourly");
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_310_400_000_i64);
        for m in spec["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(doc[name].is_u64(), "{name} has no value");
        }
        assert_eq!(spec["Metrics"].as_array().unwrap().len(), METRICS.len());
        assert_eq!(
            (doc["Runs"].clone(), doc["Applied"].clone(), doc["Failed"].clone()),
            (json!(1), json!(7), json!(2))
        );
        assert_eq!((doc["Remaining"].clone(), doc["Duration"].clone()), (json!(3), json!(1234)));
        assert_eq!((doc["MailSent"].clone(), doc["MailFailed"].clone()), (json!(4), json!(1)));
    }

    #[test]
    fn r_ops_2_no_account_or_error_text_in_the_metrics_line() {
        let line = run_document("ECCS", &run(), 0).to_string();
        assert!(!line.contains("0000000001") && !line.contains("mailbox locked"), "{line}");
    }
}
