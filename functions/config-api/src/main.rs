use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let api = config_api::init().await?;
    let api = &api;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(config_api::handle(api, req).await)
    }))
    .await
}
