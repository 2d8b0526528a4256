use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

// Lambda sends one invocation at a time: one thread drives it, with no
// worker pool to wake (BENCHMARKS.md, "CPU per delivery").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    chathooks::telemetry::init();
    let scheduler = retry_scheduler::init().await?;
    let scheduler = &scheduler;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(retry_scheduler::handle(scheduler, event.payload).await)
    }))
    .await
}
