//! Lambda entry point: nothing to set up; the handler is [`eccs_health::serve`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_bare(eccs_health::serve).await
}
