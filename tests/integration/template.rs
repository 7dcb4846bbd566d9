//! The template's operations side (R-OPS), read from `infra/template.yaml` itself so that a
//! function added without them fails here: every function has its own log group with the
//! retention parameter and alarms on its errors and throttles, every alarm notifies the one topic,
//! the two schedules have their dead-letter queue and the run alarms read the namespace the
//! scheduled functions write, every name the template sets is scoped to the stack, and every
//! checkov skip says why. CloudFormation tags read as their plain values: `!Ref SessionFunction`
//! is `"SessionFunction"`, `!GetAtt Queue.Arn` is `"Queue.Arn"`.

use std::collections::{BTreeMap, BTreeSet};

use eccs_local::template::{TEMPLATE, Template};
use yaml_rust2::{Yaml, YamlLoader};

fn doc() -> Yaml {
    YamlLoader::load_from_str(TEMPLATE).unwrap().remove(0)
}

fn str_of(y: &Yaml) -> &str {
    y.as_str().unwrap_or_default()
}

/// `(logical id, resource)` of every resource of that type, in template order.
fn resources<'a>(doc: &'a Yaml, ty: &str) -> Vec<(&'a str, &'a Yaml)> {
    doc["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .map(|(id, r)| (str_of(id), r))
        .collect()
}

fn functions(doc: &Yaml) -> Vec<(&str, &Yaml)> {
    let functions = resources(doc, "AWS::Serverless::Function");
    assert!(functions.len() >= 21, "the template's functions");
    functions
}

/// Every metric an alarm reads: `(namespace, metric name, {dimension: value})`, from the alarm
/// itself or from each `MetricStat` of its metric math.
fn alarm_metrics(alarm: &Yaml) -> Vec<(String, String, BTreeMap<String, String>)> {
    let p = &alarm["Properties"];
    let dims = |d: &Yaml| -> BTreeMap<String, String> {
        d.as_vec()
            .map(|v| v.iter().map(|d| (str_of(&d["Name"]).to_owned(), str_of(&d["Value"]).to_owned())).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(name) = p["MetricName"].as_str() {
        out.push((str_of(&p["Namespace"]).to_owned(), name.to_owned(), dims(&p["Dimensions"])));
    }
    for m in p["Metrics"].as_vec().into_iter().flatten() {
        let metric = &m["MetricStat"]["Metric"];
        if let Some(name) = metric["MetricName"].as_str() {
            out.push((str_of(&metric["Namespace"]).to_owned(), name.to_owned(), dims(&metric["Dimensions"])));
        }
    }
    out
}

#[test]
fn r_ops_1_every_function_has_a_log_group_with_retention() {
    let doc = doc();
    let retention = &doc["Parameters"]["LogRetentionDays"];
    assert_eq!(retention["Type"].as_str(), Some("Number"));
    assert_eq!(retention["Default"].as_i64(), Some(90), "R-OPS-1: 90 days unless told otherwise");
    assert_eq!(doc["Globals"]["Function"]["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));

    let mut used = BTreeMap::new();
    for (id, f) in functions(&doc) {
        let group = f["Properties"]["LoggingConfig"]["LogGroup"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no LoggingConfig.LogGroup (!Ref its log group)"));
        let resource = &doc["Resources"][group];
        assert_eq!(resource["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{id}: {group} is not a log group");
        assert_eq!(
            resource["Properties"]["RetentionInDays"].as_str(),
            Some("LogRetentionDays"),
            "{id}: {group} keeps its logs for the retention parameter"
        );
        if let Some(other) = used.insert(group, id) {
            panic!("{id} and {other} share the log group {group}");
        }
    }
    for (id, group) in resources(&doc, "AWS::Logs::LogGroup") {
        assert_eq!(group["Properties"]["RetentionInDays"].as_str(), Some("LogRetentionDays"), "{id}");
    }
}

#[test]
fn r_ops_1_the_api_writes_json_access_logs() {
    let doc = doc();
    let (_, api) = resources(&doc, "AWS::Serverless::HttpApi").into_iter().next().unwrap();
    let settings = &api["Properties"]["AccessLogSettings"];
    let destination = str_of(&settings["DestinationArn"]);
    let group = destination.strip_suffix(".Arn").expect("!GetAtt <log group>.Arn");
    assert_eq!(doc["Resources"][group]["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    // Each `$context.…` variable becomes a number, so the format must be a JSON object whatever
    // API Gateway puts there (the quoted ones are strings either way).
    let format = str_of(&settings["Format"]);
    let mut line = String::new();
    let mut rest = format;
    while let Some(at) = rest.find("$context.") {
        line.push_str(&rest[..at]);
        line.push('0');
        rest = rest[at..].trim_start_matches(|c: char| c == '$' || c == '.' || c.is_ascii_alphanumeric());
    }
    line.push_str(rest);
    let record: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    for field in ["requestId", "sourceIp", "routeKey", "status", "responseLatency", "integrationError"] {
        assert!(record.get(field).is_some(), "the access log has no {field}");
    }
    for (field, variable) in [
        ("requestId", "$context.requestId"),
        ("sourceIp", "$context.identity.sourceIp"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLatency", "$context.responseLatency"),
        ("integrationError", "$context.integrationErrorMessage"),
    ] {
        assert!(
            format.contains(&format!("\"{field}\":{variable}"))
                || format.contains(&format!("\"{field}\":\"{variable}\"")),
            "{field} is {variable}"
        );
    }
}

#[test]
fn r_ops_2_every_function_has_an_errors_and_a_throttles_alarm() {
    let doc = doc();
    let covered: BTreeSet<(String, String)> = resources(&doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .flat_map(|(_, a)| alarm_metrics(a))
        .filter(|(namespace, _, _)| namespace == "AWS/Lambda")
        .filter_map(|(_, metric, dims)| dims.get("FunctionName").map(|f| (metric, f.clone())))
        .collect();
    for (id, _) in functions(&doc) {
        for metric in ["Errors", "Throttles"] {
            assert!(covered.contains(&(metric.to_owned(), id.to_owned())), "no alarm on the {metric} of {id}");
        }
    }
}

#[test]
fn r_ops_2_every_alarm_notifies_the_alarm_topic() {
    let doc = doc();
    let alarms = resources(&doc, "AWS::CloudWatch::Alarm");
    assert!(!alarms.is_empty());
    for (id, alarm) in alarms {
        let actions: Vec<&str> = alarm["Properties"]["AlarmActions"].as_vec().unwrap().iter().map(str_of).collect();
        assert_eq!(actions, ["AlarmTopic"], "{id}");
        assert!(!str_of(&alarm["Properties"]["AlarmDescription"]).is_empty(), "{id}: what it means");
    }
    let topic = &doc["Resources"]["AlarmTopic"];
    assert_eq!(topic["Type"].as_str(), Some("AWS::SNS::Topic"));
    assert!(topic["Properties"]["KmsMasterKeyId"].as_str().is_some(), "the topic is encrypted");
    let subscriptions = resources(&doc, "AWS::SNS::Subscription");
    assert_eq!(subscriptions.len(), 1);
    let (_, subscription) = subscriptions[0];
    assert_eq!(subscription["Properties"]["Protocol"].as_str(), Some("email"));
    assert_eq!(subscription["Properties"]["Endpoint"].as_str(), Some("AlarmEmail"));
    let condition = str_of(&subscription["Condition"]);
    assert!(!doc["Conditions"][condition].is_badvalue(), "only when AlarmEmail is given");
    assert_eq!(doc["Parameters"]["AlarmEmail"]["Default"].as_str(), Some(""));
}

#[test]
fn r_ops_2_both_schedules_have_a_dead_letter_queue_with_its_alarm() {
    let doc = doc();
    let mut queues = BTreeSet::new();
    let mut schedules = 0;
    for (id, f) in functions(&doc) {
        for event in f["Properties"]["Events"].as_hash().into_iter().flat_map(|h| h.values()) {
            if event["Type"].as_str() != Some("ScheduleV2") {
                continue;
            }
            schedules += 1;
            let arn = str_of(&event["Properties"]["DeadLetterConfig"]["Arn"]);
            let queue = arn.strip_suffix(".Arn").unwrap_or_else(|| panic!("{id}: no DeadLetterConfig"));
            assert_eq!(doc["Resources"][queue]["Type"].as_str(), Some("AWS::SQS::Queue"), "{id}");
            assert!(doc["Resources"][queue]["Properties"]["KmsMasterKeyId"].as_str().is_some(), "{queue} is encrypted");
            // An asynchronous run that fails after Lambda's retries lands there too.
            assert_eq!(str_of(&f["Properties"]["DeadLetterQueue"]["TargetArn"]), arn, "{id}");
            assert_eq!(f["Properties"]["ReservedConcurrentExecutions"].as_i64(), Some(1), "{id}: one run at a time");
            queues.insert(queue.to_owned());
        }
    }
    assert_eq!(schedules, 2);
    let watched: BTreeSet<String> = resources(&doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .flat_map(|(_, a)| alarm_metrics(a))
        .filter(|(namespace, metric, _)| namespace == "AWS/SQS" && metric == "ApproximateNumberOfMessagesVisible")
        .filter_map(|(_, _, dims)| dims.get("QueueName").and_then(|q| q.strip_suffix(".QueueName")).map(str::to_owned))
        .collect();
    assert_eq!(watched, queues, "an alarm on every dead-letter queue");
}

#[test]
fn r_ops_2_run_alarms_read_the_namespace_the_scheduled_functions_write() {
    let doc = doc();
    let namespace = "ECCS/${AWS::StackName}";
    for id in ["SyncHourlyFunction", "SweepDailyFunction"] {
        let env = &doc["Resources"][id]["Properties"]["Environment"]["Variables"];
        assert_eq!(env["METRICS_NAMESPACE"].as_str(), Some(namespace), "{id}");
    }
    let mut read = BTreeSet::new();
    for (id, alarm) in resources(&doc, "AWS::CloudWatch::Alarm") {
        for (ns, metric, dims) in alarm_metrics(alarm) {
            if ns.starts_with("AWS/") {
                continue;
            }
            assert_eq!(ns, namespace, "{id}");
            let schedule = dims.get("Schedule").map(String::as_str);
            assert!(matches!(schedule, Some("sync-hourly" | "sweep-daily")), "{id}: Schedule {schedule:?}");
            assert_eq!(dims.len(), 1, "{id}: the one dimension set [[Schedule]]");
            read.insert(format!("{metric} {}", schedule.unwrap_or_default()));
        }
    }
    let expected: BTreeSet<String> = [
        "Failed sync-hourly",
        "Remaining sync-hourly",
        "Runs sweep-daily",
        "MailFailed sync-hourly",
        "MailFailed sweep-daily",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(read, expected);
}

/// The properties that name a resource in the account (two stacks must not collide on them).
const NAMING_KEYS: [&str; 10] = [
    "Name",
    "QueueName",
    "TopicName",
    "AlarmName",
    "LogGroupName",
    "DashboardName",
    "FunctionName",
    "TableName",
    "RoleName",
    "ScheduleGroupName",
];

/// Every `(path, name)` the template sets, metric dimensions (`Dimensions: [{Name, Value}]`) aside.
fn names<'a>(y: &'a Yaml, path: &str, out: &mut Vec<(String, &'a Yaml)>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = str_of(k);
                if key == "Dimensions" {
                    continue;
                }
                let here = format!("{path}.{key}");
                if NAMING_KEYS.contains(&key) {
                    out.push((here.clone(), v));
                }
                names(v, &here, out);
            }
        }
        Yaml::Array(list) => list.iter().enumerate().for_each(|(i, v)| names(v, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

#[test]
fn r_ops_3_every_name_the_template_sets_is_scoped_to_the_stack() {
    let doc = doc();
    let mut found = Vec::new();
    names(&doc["Resources"], "Resources", &mut found);
    let mut seen = BTreeSet::new();
    for (path, name) in &found {
        let name = name.as_str().unwrap_or_else(|| panic!("{path}: not a !Sub string"));
        assert!(name.contains("${AWS::StackName}"), "{path} = {name:?} is not scoped to the stack");
        let key = path.rsplit('.').next().unwrap_or_default();
        assert!(seen.insert((key, name)), "{path} = {name:?} is set twice");
    }
    let count = |key: &str| found.iter().filter(|(p, _)| p.ends_with(&format!(".{key}"))).count();
    let functions = functions(&doc).len();
    assert_eq!(count("LogGroupName"), functions + 1, "each function's and the access log");
    assert_eq!(count("AlarmName"), resources(&doc, "AWS::CloudWatch::Alarm").len());
    assert_eq!(count("Name"), 2, "the two schedules");
    assert_eq!(count("QueueName") + count("TopicName") + count("DashboardName"), 3);

    // The ops function manages exactly the two schedules, by the same names.
    let ops = &doc["Resources"]["SchedulesFunction"]["Properties"];
    let scheduled: Vec<&str> = found.iter().filter(|(p, _)| p.ends_with(".Name")).map(|(_, n)| str_of(n)).collect();
    assert_eq!(str_of(&ops["Environment"]["Variables"]["SCHEDULE_NAMES"]), scheduled.join(","));
    let statement = ops["Policies"][0]["Statement"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|s| {
            s["Action"].as_vec().is_some_and(|a| a.iter().any(|a| a.as_str() == Some("scheduler:UpdateSchedule")))
        })
        .unwrap();
    let arns: Vec<&str> = statement["Resource"].as_vec().unwrap().iter().map(str_of).collect();
    assert_eq!(arns.len(), 2);
    for (arn, name) in arns.iter().zip(&scheduled) {
        assert!(arn.ends_with(&format!(":schedule/default/{name}")), "{arn}");
    }

    // Locally the stack is `eccs`: the runner, the ops tests and events/ keep their names.
    let local: BTreeSet<String> = Template::embedded()
        .unwrap()
        .functions
        .iter()
        .flat_map(|f| f.schedules.iter().map(|s| s.name.clone()))
        .collect();
    assert_eq!(local, BTreeSet::from(["eccs-sweep-daily".to_owned(), "eccs-sync-hourly".to_owned()]));
}

#[test]
fn r_ops_4_every_checkov_skip_gives_its_reason() {
    let doc = doc();
    let mut skips = 0;
    for (id, resource) in doc["Resources"].as_hash().unwrap() {
        for skip in resource["Metadata"]["checkov"]["skip"].as_vec().into_iter().flatten() {
            let check = str_of(&skip["id"]);
            assert!(check.starts_with("CKV_AWS_"), "{}: {check:?}", str_of(id));
            let reason = str_of(&skip["comment"]);
            assert!(
                reason.len() >= 20 && !reason.contains('\n'),
                "{} skips {check} without a one-line reason",
                str_of(id)
            );
            skips += 1;
        }
    }
    assert!(skips > 0);
}
