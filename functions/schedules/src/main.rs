//! Lambda entry point: set-up only; the handler is [`eccs_schedules::handle_ops`]. Its cold start
//! builds the Scheduler client alone ([`eccs_schedules::Ops::from_env`]).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_event_with_state(eccs_schedules::Ops::from_env, eccs_schedules::handle_ops).await
}
