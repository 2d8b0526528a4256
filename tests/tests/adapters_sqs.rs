//! The SQS job queue against moto through the real SDK, each test on its own queue.
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;

use chathooks::adapters::sqs::SqsJobQueue;
use chathooks::domain::catalogue::EventType;
use chathooks::domain::ids::{DeliveryId, EventId, IntegrationId, TenantId};
use chathooks::domain::message::{DeliveryJob, QueueMessage};
use chathooks::ports::{JobQueue, OutgoingMessage};
use chathooks_tests::fixtures::fresh_queue;

fn message(delay_seconds: u32) -> OutgoingMessage {
    OutgoingMessage {
        body: QueueMessage::DeliveryV1(DeliveryJob {
            delivery_id: DeliveryId::generate(),
            tenant_id: TenantId::generate(),
            integration_id: IntegrationId::generate(),
            event_id: EventId::generate(),
            event_type: EventType::ChatClosed,
            attempt: 1,
            created_at: Utc::now(),
            acceptance_token: None,
            repeat: false,
            ordered: None,
        }),
        delay_seconds,
    }
}

fn delivery_id(message: &QueueMessage) -> DeliveryId {
    match message {
        QueueMessage::DeliveryV1(job) => job.delivery_id.clone(),
        QueueMessage::RetryV1(retry) => retry.job.delivery_id.clone(),
    }
}

/// Receive (and delete) up to `want` messages, waiting at most `patience`.
async fn receive(
    client: &aws_sdk_sqs::Client,
    url: &str,
    want: usize,
    patience: Duration,
) -> Vec<QueueMessage> {
    let deadline = Instant::now() + patience;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            let body = m.body.as_deref().unwrap_or_default();
            got.push(QueueMessage::from_json(body).expect("a queue message"));
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .unwrap();
        }
    }
    got
}

#[tokio::test]
async fn every_message_of_a_multi_batch_send_arrives_intact() {
    let (client, url) = fresh_queue().await.unwrap();
    let queue = SqsJobQueue::new(client.clone(), url.clone());
    // GIVEN 25 messages: three batches, the last one partial
    let sent: Vec<OutgoingMessage> = (0..25).map(|_| message(0)).collect();

    // WHEN sent
    queue.send(&sent).await.unwrap();

    // THEN all 25 arrive, each parsing back to the message sent
    let received = receive(&client, &url, 25, Duration::from_secs(30)).await;
    assert_eq!(received.len(), 25);
    let expected: BTreeSet<_> = sent.iter().map(|m| delivery_id(&m.body)).collect();
    let got: BTreeSet<_> = received.iter().map(delivery_id).collect();
    assert_eq!(got, expected);
    for m in &received {
        let original = sent
            .iter()
            .find(|s| delivery_id(&s.body) == delivery_id(m))
            .unwrap();
        assert_eq!(&original.body, m);
    }
    // AND nothing more is there
    assert!(
        receive(&client, &url, 1, Duration::from_secs(1))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_delayed_message_becomes_visible_after_its_delay() {
    let (client, url) = fresh_queue().await.unwrap();
    let queue = SqsJobQueue::new(client.clone(), url.clone());
    let delayed = message(2);

    // WHEN a message is sent with a 2 s delay
    let sent = Instant::now();
    queue.send(std::slice::from_ref(&delayed)).await.unwrap();

    // THEN it is not there at once
    let now = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert!(now.messages.unwrap_or_default().is_empty());
    // AND it arrives once its delay has passed, not before
    let later = receive(&client, &url, 1, Duration::from_secs(30)).await;
    let waited = sent.elapsed();
    assert_eq!(later, vec![delayed.body]);
    assert!(waited >= Duration::from_secs(2), "visible after {waited:?}");
}

#[tokio::test]
async fn delays_beyond_the_sqs_maximum_are_capped_and_empty_sends_succeed() {
    let (client, url) = fresh_queue().await.unwrap();
    let queue = SqsJobQueue::new(client, url);
    // SQS rejects a delay over 900 s: the adapter caps it instead.
    queue.send(&[message(3_600)]).await.unwrap();
    queue.send(&[]).await.unwrap();
}
