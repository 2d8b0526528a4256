use lambda_http::{Error, Request, run, service_fn};

// Lambda sends one invocation at a time: one thread drives it, with no
// worker pool to wake (BENCHMARKS.md, "CPU per delivery").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let api = config_api::init().await?;
    // The config API's only metric: its cold start (one EMF line).
    chathooks::metrics::Metrics::new(
        chathooks::metrics::CONFIG_API,
        std::sync::Arc::new(chathooks::metrics::StdoutSink),
    )
    .flush();
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(config_api::handle(api, req).await)
    }))
    .await
}
