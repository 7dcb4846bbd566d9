//! Ops: the state of the two EventBridge schedules (state, expression, time zone, next fire time
//! in JST), and pausing or resuming them — during mail maintenance, say. Invoked by an operator:
//!
//! ```sh
//! aws lambda invoke --function-name <SchedulesFunction> --payload '{"action":"status"}' out.json
//! aws lambda invoke ... --payload '{"action":"pause","schedule":"eccs-sync-hourly"}' out.json
//! ```
//!
//! Without `schedule`, pause and resume act on both. The template grants this function
//! `scheduler:GetSchedule` and `scheduler:UpdateSchedule` on those two schedules only.

use aws_config::BehaviorVersion;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::config::{Credentials, Region};
use aws_sdk_scheduler::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types::ScheduleState;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::config::Schedules;
use shared::domain::time;
use shared::usecase::schedule::Invocation;
use shared::{ApiError, App};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Status,
    Pause,
    Resume,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub action: Action,
    /// One schedule's name; all of them when absent.
    #[serde(default)]
    pub schedule: Option<String>,
}

/// What the function keeps from its cold start: the schedules it manages and the Scheduler
/// client. Not an [`App`]: it reads no table and verifies no token, so its cold start builds no
/// DynamoDB client, parses no key and makes no call.
pub struct Ops {
    settings: Schedules,
    client: Client,
}

impl Ops {
    /// The local runner's and the tests' ([`client`]).
    pub fn new(settings: Schedules) -> Result<Self, String> {
        Ok(Self { client: client(&settings)?, settings })
    }

    /// The Lambda's cold start: the settings from the environment ([`Schedules::from_env`]) and
    /// a client from the production configuration every SDK client shares
    /// ([`shared::app::sdk_config`]), at `SCHEDULER_ENDPOINT` where one is set (the benchmark's
    /// stand-in), as [`App::from_env`] does for DynamoDB.
    pub fn from_env() -> Result<Self, String> {
        let settings = Schedules::from_env();
        Ok(Self { client: production_client(settings.endpoint.as_deref())?, settings })
    }
}

/// The Lambda handler ([`Ops`] built once at cold start). Its future is boxed: unboxed, the
/// layout of `main`'s future overflows the compiler's query depth limit.
pub async fn handle_ops(ops: &Ops, event: Value, _invocation: Invocation) -> Result<Value, ApiError> {
    Box::pin(answer(ops, event, chrono::Utc::now())).await
}

/// The local runner's and the tests' handler: the settings and the clock of their [`App`]. The
/// event is read first: a malformed one is a 400 whatever the client's configuration.
pub async fn handle(app: &App, event: Value, _invocation: Invocation) -> Result<Value, ApiError> {
    let command = parse(event)?;
    let ops = Ops::new(app.schedules.clone()).map_err(ApiError::Internal)?;
    run(&ops.client, &ops.settings, command, app.clock.now()).await
}

async fn answer(ops: &Ops, event: Value, now: chrono::DateTime<chrono::Utc>) -> Result<Value, ApiError> {
    run(&ops.client, &ops.settings, parse(event)?, now).await
}

fn parse(event: Value) -> Result<Command, ApiError> {
    serde_json::from_value(event).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The local runner's and the tests' Scheduler client: fixed credentials for an emulator, the
/// production configuration ([`shared::app::sdk_config`]) without one. The Lambda builds its
/// own ([`Ops::from_env`]).
pub fn client(settings: &Schedules) -> Result<Client, String> {
    Ok(match &settings.endpoint {
        Some(endpoint) => {
            let (retries, timeouts) = shared::app::limits();
            Client::from_conf(
                aws_sdk_scheduler::Config::builder()
                    .retry_config(retries)
                    .timeout_config(timeouts)
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new("ap-northeast-1"))
                    .credentials_provider(Credentials::new("testing", "testing", None, None, "eccs-local"))
                    .endpoint_url(endpoint)
                    .build(),
            )
        }
        None => production_client(None)?,
    })
}

/// The client from the configuration every production SDK client shares, at `endpoint` if given.
fn production_client(endpoint: Option<&str>) -> Result<Client, String> {
    let mut config = aws_sdk_scheduler::config::Builder::from(&shared::app::sdk_config()?);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(Client::from_conf(config.build()))
}

pub async fn run(
    client: &Client,
    settings: &Schedules,
    command: Command,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, ApiError> {
    let names: Vec<String> = match &command.schedule {
        Some(name) if settings.names.contains(name) => vec![name.clone()],
        Some(_) => return Err(ApiError::NotFound),
        None => settings.names.clone(),
    };
    let mut out = Vec::new();
    for name in &names {
        let current = get(client, settings, name).await?;
        let schedule = match command.action {
            Action::Status => current,
            Action::Pause => set_state(client, settings, current, ScheduleState::Disabled).await?,
            Action::Resume => set_state(client, settings, current, ScheduleState::Enabled).await?,
        };
        out.push(view(&schedule, now));
    }
    Ok(json!({ "schedules": out }))
}

async fn get(client: &Client, settings: &Schedules, name: &str) -> Result<GetScheduleOutput, ApiError> {
    client.get_schedule().name(name).group_name(&settings.group).send().await.map_err(|e| {
        if e.as_service_error().and_then(|s| s.code()) == Some("ResourceNotFoundException") {
            ApiError::NotFound
        } else {
            ApiError::Internal(format!("get schedule {name}: {}", DisplayErrorContext(&e)))
        }
    })
}

/// UpdateSchedule replaces the whole definition: everything is sent back as it was, but the state.
async fn set_state(
    client: &Client,
    settings: &Schedules,
    current: GetScheduleOutput,
    state: ScheduleState,
) -> Result<GetScheduleOutput, ApiError> {
    let name = current.name().unwrap_or_default().to_owned();
    client
        .update_schedule()
        .name(&name)
        .group_name(&settings.group)
        .set_schedule_expression(current.schedule_expression().map(str::to_owned))
        .set_schedule_expression_timezone(current.schedule_expression_timezone().map(str::to_owned))
        .set_flexible_time_window(current.flexible_time_window().cloned())
        .set_target(current.target().cloned())
        .set_description(current.description().map(str::to_owned))
        .set_start_date(current.start_date().cloned())
        .set_end_date(current.end_date().cloned())
        .set_kms_key_arn(current.kms_key_arn().map(str::to_owned))
        .set_action_after_completion(current.action_after_completion().cloned())
        .state(state)
        .send()
        .await
        .map_err(|e| ApiError::Internal(format!("update schedule {name}: {}", DisplayErrorContext(&e))))?;
    tracing::info!(schedule = %name, from = ?current.state(), "schedule state changed");
    get(client, settings, &name).await
}

fn view(s: &GetScheduleOutput, now: chrono::DateTime<chrono::Utc>) -> Value {
    let expression = s.schedule_expression().unwrap_or_default();
    // The template's schedules run in Asia/Tokyo; another zone is shown, but its next fire
    // time is not guessed (no time-zone database is linked: domain::time::JST).
    let named = s.schedule_expression_timezone();
    let zone = time::zone_named(named);
    let enabled = s.state() == Some(&ScheduleState::Enabled);
    let next = enabled
        .then(|| time::cron_schedule(expression).ok())
        .flatten()
        .zip(zone)
        .and_then(|(c, zone)| time::next_fire(&c, &zone, now))
        .map(time::rfc3339);
    json!({
        "name": s.name(),
        "state": s.state().map(|x| x.as_str()),
        "expression": expression,
        "timezone": named.unwrap_or("UTC"),
        "next_fire_time": next,
        "target": s.target().map(|t| t.arn()),
    })
}
