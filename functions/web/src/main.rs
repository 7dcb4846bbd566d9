//! Lambda entry point: nothing to set up; the handler is [`eccs_web::serve`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_bare(eccs_web::serve).await
}
