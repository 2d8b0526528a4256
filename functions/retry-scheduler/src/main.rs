use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let scheduler = retry_scheduler::init().await?;
    let scheduler = &scheduler;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(retry_scheduler::handle(scheduler, event.payload).await)
    }))
    .await
}
