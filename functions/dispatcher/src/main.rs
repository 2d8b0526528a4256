use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let dispatcher = dispatcher::init().await?;
    let dispatcher = &dispatcher;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(dispatcher::handle(dispatcher, event.payload).await)
    }))
    .await
}
