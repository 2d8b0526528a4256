use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let api = event_intake::init().await?;
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(event_intake::handle(api, req).await)
    }))
    .await
}
