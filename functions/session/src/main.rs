//! Lambda entry point: set-up only; the handler is [`eccs_session::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_http_with(shared::app::Setup::secrets(), eccs_session::handle).await
}
