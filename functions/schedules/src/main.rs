//! Lambda entry point: set-up only; the handler is [`eccs_schedules::handle`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_event(eccs_schedules::handle).await
}
