//! Lambda entry point: set-up only; the handler is [`eccs_password_reset::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_http_with(shared::app::Setup::identity_check(), eccs_password_reset::handle).await
}
