//! Lambda entry point: set-up only; the handler is [`eccs_account_password::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_http_with(shared::app::Setup::mail(), eccs_account_password::handle).await
}
