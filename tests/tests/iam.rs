//! Least privilege, proven on a run that takes every function through its
//! paths: every AWS call each function made (its own clients and its SQS
//! event-source mapping, recorded per function by `chathooks_tests::iam`) is
//! allowed by the statements template.yaml grants its role, as the SAM
//! translator expands them; and the check fails when a statement a function
//! needs is taken out of the template. (Every other test's stack is checked
//! the same way when it is dropped.)

use chathooks_tests::fixtures::*;
use chathooks_tests::iam::{CONFIG_API, Call, DISPATCHER, EVENT_INTAKE, Policies, RETRY_SCHEDULER};
use chathooks_tests::local::LocalStack;
use chathooks_tests::receiver::{Receiver, Reply};
use serde_json::json;
use std::collections::BTreeSet;

/// Exercise the four functions: integrations through the config API, events
/// accepted, repeated and refused (the queue cut off: the intake undoes its
/// inserts), a failed attempt retried through the retry scheduler, a manual
/// retry, a recover, the log and the stats read back.
async fn full_run() -> (LocalStack, BTreeSet<Call>) {
    let (stack, _admin, tenant) = stack_opts(LocalOptions {
        through_proxies: true,
        // A receive cut off with SQS comes back quickly (as in outage.rs).
        visibility_timeout: Some(5),
        check_iam: false,
        ..LocalOptions::default()
    })
    .await;
    let proxies = stack.proxies.as_ref().unwrap();
    // The first attempt of each delivery fails, the next succeeds.
    let receiver = Receiver::scripted(|n, _| Reply::status(if n == 0 { 500 } else { 200 })).await;
    let (id, _) = integration(
        &tenant,
        &receiver.url("/hook"),
        json!({"retry_policy": [1]}),
    )
    .await;
    assert_eq!(
        tenant.get(&format!("/v1/integrations/{id}")).await.status,
        200
    );
    let rotated = tenant
        .post(&format!("/v1/integrations/{id}/secret/rotate"), &json!({}))
        .await;
    assert!(rotated.status < 300, "{:?}", rotated.body);

    let delivery = post_event(&tenant, "evt-iam-1").await;
    let done = wait_status(&tenant, &delivery, "succeeded").await;
    assert_eq!(attempts(&done).len(), 2, "{done}");
    let repeat = tenant.post("/v1/events", &closed_chat("evt-iam-1")).await;
    assert!(repeat.status < 300, "{:?}", repeat.body);
    proxies.sqs.cut();
    let refused = tenant.post("/v1/events", &closed_chat("evt-iam-2")).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    proxies.sqs.restore();
    let retried = tenant
        .post(&format!("/v1/deliveries/{delivery}/retry"), &json!({}))
        .await;
    assert_eq!(retried.status, 202, "{:?}", retried.body);
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let recovered = tenant
        .post(
            &format!("/v1/integrations/{id}/recover"),
            &json!({"since": since}),
        )
        .await;
    assert_eq!(recovered.status, 202, "{:?}", recovered.body);
    wait_idle(&stack).await;
    for path in [
        format!("/v1/integrations/{id}/deliveries"),
        format!("/v1/integrations/{id}/stats"),
        "/v1/deliveries?chat_id=chat-evt-iam-1".to_string(),
    ] {
        let got = tenant.get(&path).await;
        assert_eq!(got.status, 200, "{path}: {:?}", got.body);
    }
    let deleted = tenant.delete(&format!("/v1/integrations/{id}")).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let calls = stack.iam.calls();
    (stack, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_of_every_function_is_allowed_by_its_role_and_only_by_it() {
    let (stack, calls) = full_run().await;
    let policies = Policies::template()
        .expect("expand template.yaml")
        .for_stack(&stack.stack)
        .expect("fill in the stack");

    // THEN each function (and each event-source mapping) made calls of its own
    let by = |function: &str| -> BTreeSet<String> {
        calls
            .iter()
            .filter(|c| c.function == function)
            .map(|c| c.action.clone())
            .collect()
    };
    for function in [CONFIG_API, EVENT_INTAKE, DISPATCHER, RETRY_SCHEDULER] {
        assert!(
            !by(function).is_empty(),
            "{function} made no call: {calls:?}"
        );
    }
    assert!(
        by(EVENT_INTAKE).contains("dynamodb:DeleteItem"),
        "{calls:?}"
    );
    assert!(by(DISPATCHER).contains("sqs:ReceiveMessage"), "{calls:?}");
    assert!(
        by(RETRY_SCHEDULER).contains("sqs:DeleteMessage"),
        "{calls:?}"
    );
    // (what each role is used for: `--nocapture` shows it)
    for call in &calls {
        eprintln!("{call}");
    }
    // AND every one of them is allowed
    let denied = policies.denied(&calls);
    assert!(denied.is_empty(), "denied: {denied:#?}");

    // AND a role is not a blanket grant: the same calls made as another
    // function are refused where that role lacks them (the intake may not
    // send to the retry queue nor consume the delivery queue; the consumers'
    // AWSLambdaSQSQueueExecutionRole, which SAM adds to a function with an
    // SQS event, allows receiving from any queue)
    let as_function = |function: &str, call: &Call| Call {
        function: function.to_string(),
        ..call.clone()
    };
    let retry_send = calls
        .iter()
        .find(|c| c.function == DISPATCHER && c.action == "sqs:SendMessage")
        .expect("the dispatcher scheduled a retry");
    assert!(!policies.allows(&as_function(EVENT_INTAKE, retry_send)));
    let delivery_receive = calls
        .iter()
        .find(|c| c.function == DISPATCHER && c.action == "sqs:ReceiveMessage")
        .expect("the dispatcher consumed jobs");
    assert!(!policies.allows(&as_function(EVENT_INTAKE, delivery_receive)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taking_a_needed_statement_out_of_the_template_fails_the_check() {
    // GIVEN template.yaml without the intake's DeleteItem
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
    )
    .unwrap();
    let needed = "                - dynamodb:DeleteItem\n";
    let intake_at = template
        .find("IntakeTableAccess")
        .expect("the intake's statement");
    let cut_at = intake_at
        + template[intake_at..]
            .find(needed)
            .expect("DeleteItem granted");
    let mut without = template.clone();
    without.replace_range(cut_at..cut_at + needed.len(), "");
    let dir = std::env::temp_dir().join(unique_name("chathooks-iam"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("template.yaml");
    std::fs::write(&path, without).unwrap();
    let weakened = Policies::expand(&path);
    let _ = std::fs::remove_dir_all(&dir);

    // WHEN the run's calls are checked against it
    let (stack, calls) = full_run().await;
    let denied = weakened
        .expect("expand the weakened template")
        .for_stack(&stack.stack)
        .unwrap()
        .denied(&calls);
    // THEN exactly the intake's undo of its inserts is refused
    assert_eq!(denied.len(), 1, "{denied:#?}");
    assert_eq!(denied[0].function, EVENT_INTAKE);
    assert_eq!(denied[0].action, "dynamodb:DeleteItem");
    assert!(denied[0].resource.ends_with("-Table"), "{denied:?}");
}
