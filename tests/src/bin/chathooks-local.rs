//! `make dev`: the whole system on this machine. moto for SQS and DynamoDB,
//! the tables and queues of template.yaml, the HTTP API on 127.0.0.1:$PORT
//! (default 3000) served by the config-api and event-intake handlers, and the
//! dispatcher and retry scheduler consuming their queues. Ctrl-C stops it all.
use chathooks_tests::local::{LocalOptions, LocalStack};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    chathooks::telemetry::init();
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("PORT must be a port number, got `{p}`"))?,
        Err(_) => 3000,
    };
    let (admin_key, generated) = match std::env::var("CHATHOOKS_ADMIN_KEY") {
        Ok(k) if !k.is_empty() => (k, false),
        _ => (chathooks_tests::random_key("adm"), true),
    };
    eprintln!(
        "starting moto (SQS and DynamoDB) and provisioning template.yaml's tables and queues..."
    );
    let mut stack = LocalStack::start(LocalOptions {
        admin_key: admin_key.clone(),
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
    tokio::signal::ctrl_c().await?;
    eprintln!("stopping...");
    stack.stop().await;
    Ok(())
}

fn walkthrough(api: &str, admin: &str) -> String {
    format!(
        r#"Walkthrough (copy-paste into another terminal, from the repository root):

  export API={api} ADMIN={admin}
  json() {{ python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }}

  # 1. a tenant and its API key (shown once)
  KEY=$(curl -s -X POST $API/v1/tenants -H "authorization: Bearer $ADMIN" \
        -H 'content-type: application/json' -d '{{"name":"acme"}}' | json '["api_key"]')

  # 2. an integration: standard format, retries after 2 s and 5 s
  curl -s -X POST $API/v1/integrations -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
       -d '{{"name":"demo","url":"http://127.0.0.1:4000/hook","events":["chat.closed"],"retry_policy":[2,5]}}' > /tmp/integration.json
  SECRET=$(json '["secret"]' < /tmp/integration.json)

  # 3. a receiver verifying signatures with the standardwebhooks library; it fails its first request
  .venv/bin/python scripts/receiver.py --port 4000 --secret "$SECRET" --fail-first 1 &
  sleep 1

  # 4. a chat.closed event: 202 once queued
  curl -s -X POST $API/v1/events -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
       -d '{{"id":"chat-42-closed","type":"chat.closed","chat":{{"id":"chat-42","messages":[{{"author_type":"visitor","author_name":"Mary","text":"Hello","sent_at":"2026-11-21T10:00:00Z"}}]}}}}' > /tmp/accepted.json
  DELIVERY=$(json '["deliveries"][0]["id"]' < /tmp/accepted.json)

  # 5. after a few seconds: the failed first attempt, then the retry that succeeded
  sleep 8; curl -s $API/v1/deliveries/$DELIVERY -H "authorization: Bearer $KEY" | python3 -m json.tool

  # 6. the portal for this tenant: open the printed link in a browser (valid for an hour)
  curl -s -X POST $API/v1/portal/sessions -H "authorization: Bearer $KEY" | json '["url"]'
"#
    )
}
