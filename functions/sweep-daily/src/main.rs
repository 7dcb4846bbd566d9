//! Lambda entry point: set-up only; the handler is [`eccs_sweep_daily::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_event(shared::app::Setup::mail(), eccs_sweep_daily::handle).await
}
