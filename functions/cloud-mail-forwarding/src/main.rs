//! Lambda entry point: set-up only; the handler is [`eccs_cloud_mail_forwarding::handle`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_http_with(shared::app::Setup::mail(), eccs_cloud_mail_forwarding::handle).await
}
