use lambda_http::{Error, Request, run, service_fn};

// Lambda sends one invocation at a time: one thread drives it, with no
// worker pool to wake (BENCHMARKS.md, "CPU per delivery").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let api = event_intake::init().await?;
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(event_intake::handle(api, req).await)
    }))
    .await
}
