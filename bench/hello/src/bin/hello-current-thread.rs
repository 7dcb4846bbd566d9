//! The baseline on tokio's current-thread runtime, as every function here runs: the benchmark
//! shows how much of a function's ratio to the template's hello-world the runtime alone makes.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async { Ok::<_, Error>(Response::new(Body::from("hello"))) })).await
}
