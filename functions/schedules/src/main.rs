//! Lambda entry point: set-up only; the handler is [`eccs_schedules::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_event(shared::app::Setup::default(), eccs_schedules::handle).await
}
