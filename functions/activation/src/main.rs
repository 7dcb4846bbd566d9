//! Lambda entry point: set-up only; the handler is [`eccs_activation::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_http(eccs_activation::handle).await
}
