//! The `schedules` ops function against moto_server's EventBridge Scheduler: status with the next
//! fire time in JST, pause and resume of the template's two schedules.

use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use eccs_local::template::Template;
use serde_json::json;
use shared::config::Schedules;

use crate::harness::Moto;

/// Creates the template's schedules in the emulator, as CloudFormation would.
pub async fn create_template_schedules(client: &aws_sdk_scheduler::Client) {
    let template = Template::embedded().unwrap();
    for f in &template.functions {
        for s in &f.schedules {
            client
                .create_schedule()
                .name(&s.name)
                .schedule_expression(&s.expression)
                .schedule_expression_timezone(&s.timezone)
                .flexible_time_window(FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().unwrap())
                .target(
                    Target::builder()
                        .arn(format!("arn:aws:lambda:ap-northeast-1:123456789012:function:{}", f.logical_id))
                        .role_arn("arn:aws:iam::123456789012:role/SchedulerInvokeRole")
                        .input(r#"{"scheduled_time": "<aws.scheduler.scheduled-time>"}"#)
                        .build()
                        .unwrap(),
                )
                .state(ScheduleState::Enabled)
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pause_and_resume_the_two_schedules() {
    let moto = Moto::start().await;
    let settings = Schedules { endpoint: Some(moto.endpoint.clone()), ..Schedules::default() };
    let client = eccs_schedules::client(&settings).unwrap();
    create_template_schedules(&client).await;
    let now = shared::domain::time::parse_stamp("2026-11-22T10:20:00+09:00").unwrap();
    let command = |v| serde_json::from_value::<eccs_schedules::Command>(v).unwrap();

    let status = eccs_schedules::run(&client, &settings, command(json!({ "action": "status" })), now).await.unwrap();
    assert_eq!(
        status["schedules"],
        json!([
            { "name": "eccs-sync-hourly", "state": "ENABLED", "expression": "cron(0 * * * ? *)", "timezone": "Asia/Tokyo",
              "next_fire_time": "2026-11-22T11:00:00+09:00", "target": "arn:aws:lambda:ap-northeast-1:123456789012:function:SyncHourlyFunction" },
            { "name": "eccs-sweep-daily", "state": "ENABLED", "expression": "cron(5 0 * * ? *)", "timezone": "Asia/Tokyo",
              "next_fire_time": "2026-11-23T00:05:00+09:00", "target": "arn:aws:lambda:ap-northeast-1:123456789012:function:SweepDailyFunction" },
        ])
    );

    let paused = eccs_schedules::run(
        &client,
        &settings,
        command(json!({ "action": "pause", "schedule": "eccs-sync-hourly" })),
        now,
    )
    .await
    .unwrap();
    assert_eq!(paused["schedules"][0]["state"], "DISABLED");
    assert_eq!(paused["schedules"][0]["next_fire_time"], serde_json::Value::Null, "a paused schedule does not fire");
    let raw = client.get_schedule().name("eccs-sync-hourly").send().await.unwrap();
    assert_eq!(raw.state(), Some(&ScheduleState::Disabled));
    assert_eq!(raw.schedule_expression(), Some("cron(0 * * * ? *)"), "the rest of the definition is kept");
    assert_eq!(raw.target().unwrap().input(), Some(r#"{"scheduled_time": "<aws.scheduler.scheduled-time>"}"#));
    let other = client.get_schedule().name("eccs-sweep-daily").send().await.unwrap();
    assert_eq!(other.state(), Some(&ScheduleState::Enabled), "the other schedule is untouched");

    let resumed = eccs_schedules::run(&client, &settings, command(json!({ "action": "resume" })), now).await.unwrap();
    assert_eq!(resumed["schedules"][0]["state"], "ENABLED");
    assert_eq!(resumed["schedules"][1]["state"], "ENABLED");

    let unknown =
        eccs_schedules::run(&client, &settings, command(json!({ "action": "pause", "schedule": "other" })), now).await;
    assert_eq!(unknown.unwrap_err(), shared::ApiError::NotFound, "only the template's schedules");
    assert!(serde_json::from_value::<eccs_schedules::Command>(json!({ "action": "delete" })).is_err());
}

/// The Lambda's handler: the ops state built once ([`eccs_schedules::Ops`], no `App`: no table,
/// no key), each event parsed and answered with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_handler_answers_from_the_ops_state_alone() {
    let moto = Moto::start().await;
    let settings = Schedules { endpoint: Some(moto.endpoint.clone()), ..Schedules::default() };
    create_template_schedules(&eccs_schedules::client(&settings).unwrap()).await;
    let ops = &eccs_schedules::Ops::new(settings).unwrap();
    let invocation = || shared::usecase::schedule::Invocation::default();

    let status = eccs_schedules::handle_ops(ops, json!({ "action": "status" }), invocation()).await.unwrap();
    let states: Vec<_> = status["schedules"].as_array().unwrap().iter().map(|s| s["state"].clone()).collect();
    assert_eq!(states, [json!("ENABLED"), json!("ENABLED")]);
    let paused =
        eccs_schedules::handle_ops(ops, json!({ "action": "pause", "schedule": "eccs-sweep-daily" }), invocation())
            .await
            .unwrap();
    assert_eq!(paused["schedules"].as_array().map(Vec::len), Some(1), "one schedule: {paused}");
    assert_eq!(paused["schedules"][0]["name"], "eccs-sweep-daily");
    assert_eq!(paused["schedules"][0]["state"], "DISABLED");
    // A malformed event is a 400 bad_request, not a failure of the function.
    let bad = eccs_schedules::handle_ops(ops, json!({ "action": "delete" }), invocation()).await.unwrap_err();
    assert!(matches!(bad, shared::ApiError::BadRequest(_)), "{bad:?}");
}
