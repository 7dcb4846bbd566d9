//! Lambda entry point: the public key from the environment; the handler is
//! [`eccs_well_known::serve`].

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::lambda::run_with_state(eccs_well_known::Published::from_env, eccs_well_known::serve).await
}
