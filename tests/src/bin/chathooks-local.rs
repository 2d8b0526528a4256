//! `make dev`: the whole system on this machine. moto for SQS and DynamoDB,
//! the tables and queues of template.yaml, the HTTP API on 127.0.0.1:$PORT
//! (default 3000) served by the config-api and event-intake handlers, and the
//! dispatcher and retry scheduler consuming their queues. While there is
//! traffic, one summary line a minute (deliveries ok and failed, p50 and p99
//! of the acceptance-to-success lag) computed from the functions' metric
//! lines. Ctrl-C stops it all.
use chathooks_tests::local::{LocalOptions, LocalStack, walkthrough};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    chathooks::telemetry::init();
    let (port, admin_key, generated) = chathooks_tests::local::run_settings()?;
    eprintln!(
        "starting moto (SQS and DynamoDB) and provisioning template.yaml's tables and queues..."
    );
    let mut stack = LocalStack::start(LocalOptions {
        admin_key: admin_key.clone(),
        // A development server, not a test: no IAM check when it stops.
        check_iam: false,
        ..Default::default()
    })
    .await?;
    let addr = stack.serve(port).await?;
    stack.start_consumers();
    let api = format!("http://{addr}");
    println!(
        "\nchathooks is running locally\n\
         \n  API             {api}\
         \n  admin key       {}{admin_key}\
         \n  table           {}\
         \n  delivery queue  {}\
         \n  retry queue     {}\
         \n  SQS emulator    {}\
         \n  DynamoDB emul.  {}\
         \n\n  NOTE: local mode allows private-network and plain-http targets (the SSRF guard is off),\
         \n  so receivers on 127.0.0.1 work. Deployed stacks refuse them unless configured otherwise.\n",
        if generated { "(generated) " } else { "" },
        stack.stack.table("Table").unwrap_or_default(),
        stack.queue_url("DeliveryQueue"),
        stack.queue_url("RetryQueue"),
        stack.emulator.sqs.endpoint,
        stack.emulator.dynamodb.endpoint,
    );
    println!("{}", walkthrough(&api, &admin_key));
    let metrics = stack.metrics.clone();
    let summary = tokio::spawn(async move {
        let mut minute = tokio::time::interval(std::time::Duration::from_secs(60));
        minute.tick().await;
        loop {
            minute.tick().await;
            match metrics.drain() {
                Ok(emf) => {
                    let s = chathooks_tests::metrics::Summary::of(&emf);
                    if s.has_traffic() {
                        println!("[last minute] {s}");
                    }
                }
                Err(e) => eprintln!("metrics: {e}"),
            }
        }
    });
    tokio::signal::ctrl_c().await?;
    summary.abort();
    eprintln!("stopping...");
    stack.stop().await;
    Ok(())
}
