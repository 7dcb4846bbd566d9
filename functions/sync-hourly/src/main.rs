//! Lambda entry point: set-up only; the handler is [`eccs_sync_hourly::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_event(shared::app::Setup::mail(), eccs_sync_hourly::handle).await
}
