//! A delivery whose message cannot be processed on any receive is not lost
//! silently: on its last receive before the dead-letter queue, the consumer
//! marks it failed in the log with the reason, and the message dead-letters
//! (kept for replay).

use chathooks_tests::fixtures::*;
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_that_keeps_failing_to_process_is_marked_failed_and_dead_lettered() {
    // GIVEN redelivery after 2 s (longer than a handler takes on a loaded
    // machine: a message coming back while its handler still runs would be
    // received without an attempt), and a retry queue that no longer exists,
    // so every failed attempt fails to schedule its retry (an Err: redeliver)
    let mut opts = options(&[]);
    opts.visibility_timeout = Some(2);
    let (stack, _admin, tenant) = stack_opts(opts).await;
    let receiver = Receiver::scripted(|_, _| Reply::status(500)).await;
    integration(&tenant, &receiver.url("/"), json!({"retry_policy": [60]})).await;
    stack
        .sqs
        .delete_queue()
        .queue_url(stack.queue_url("RetryQueue"))
        .send()
        .await
        .expect("delete the retry queue");

    // WHEN an event is posted
    let id = post_event(&tenant, "evt-dead-letter").await;

    // THEN each of the five receives makes its attempt and fails to go on
    let got = receiver.wait_for(5, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 5, "one attempt per receive");
    // AND after the last one the delivery is failed with the reason
    let detail = wait_settled(&tenant, &id, WAIT).await;
    assert_eq!(detail["status"], "failed", "{detail}");
    let reason = detail["last_error"].as_str().unwrap_or_default();
    assert!(reason.contains("dead-letter queue"), "{reason}");
    // AND the message itself is in the dead-letter queue
    let dlq = stack.queue_url("DeliveryDeadLetterQueue");
    let mut found = false;
    for _ in 0..20 {
        let out = stack
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        if out
            .messages
            .unwrap_or_default()
            .iter()
            .any(|m| m.body().unwrap_or_default().contains(&id))
        {
            found = true;
            break;
        }
    }
    assert!(found, "the message did not reach the dead-letter queue");
    wait_idle(&stack).await;
    assert_eq!(
        receiver.received().len(),
        5,
        "no attempt after dead-lettering"
    );
}
