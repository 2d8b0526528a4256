//! The emulator is provisioned from template.yaml itself: tables with their
//! indexes and TTL, queues with their dead-letter queues, and the functions'
//! environment resolved against what was created.
use aws_sdk_dynamodb::types::{ProjectionType, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use chathooks_tests::fixtures::emulator;
use chathooks_tests::moto::Emulator;
use chathooks_tests::provision::{
    EMULATED, NOT_EMULATED, ProvisionError, Reference, Resolve, Stack, Template, provision,
    provision_template, template, unique_prefix,
};
use std::collections::HashMap;

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
}

async fn clients(emulator: &Emulator) -> Clients {
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&emulator.dynamodb_config().await),
        sqs: aws_sdk_sqs::Client::new(&emulator.sqs_config().await),
    }
}

async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> HashMap<QueueAttributeName, String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes()
        .cloned()
        .unwrap_or_default()
}

fn env_map(env: Vec<(String, String)>) -> HashMap<String, String> {
    env.into_iter().collect()
}

#[tokio::test]
async fn the_table_has_its_keys_index_and_ttl_from_the_template() {
    // GIVEN an emulator provisioned from template.yaml
    let emulator = emulator().unwrap();
    let c = clients(&emulator).await;
    let stack = provision(&c.dynamodb, &c.sqs, &unique_prefix("prov"))
        .await
        .unwrap();

    // WHEN the table is described
    let name = stack.table("Table").unwrap();
    assert!(name.starts_with(&stack.prefix));
    let table = c
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .unwrap();
    let table = table.table().unwrap();

    // THEN it has pk/sk, the gsi1 index with every attribute projected, and TTL on expires_at
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, vec![("pk", "HASH"), ("sk", "RANGE")]);
    let gsi = table
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some("gsi1"))
        .expect("gsi1 exists");
    let gsi_keys: Vec<_> = gsi
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(gsi_keys, vec![("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]);
    assert_eq!(
        gsi.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    let ttl = c
        .dynamodb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(stack.table_arns["Table"], table.table_arn().unwrap());
}

#[tokio::test]
async fn queues_redrive_to_their_dead_letter_queues_with_template_timeouts() {
    let emulator = emulator().unwrap();
    let c = clients(&emulator).await;
    let stack = provision(&c.dynamodb, &c.sqs, &unique_prefix("prov"))
        .await
        .unwrap();
    assert_eq!(
        stack.queues.keys().map(String::as_str).collect::<Vec<_>>(),
        vec![
            "DeliveryDeadLetterQueue",
            "DeliveryQueue",
            "RetryDeadLetterQueue",
            "RetryQueue"
        ]
    );

    for (queue, dlq, visibility) in [
        ("DeliveryQueue", "DeliveryDeadLetterQueue", "360"),
        ("RetryQueue", "RetryDeadLetterQueue", "180"),
    ] {
        // WHEN the queue's attributes are read back from the emulator
        let attributes = queue_attributes(&c.sqs, stack.queue_url(queue).unwrap()).await;

        // THEN the visibility timeout is the template's and the redrive policy names the DLQ
        assert_eq!(
            attributes[&QueueAttributeName::VisibilityTimeout],
            visibility,
            "{queue}"
        );
        let redrive: serde_json::Value =
            serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
        assert_eq!(
            redrive["deadLetterTargetArn"],
            stack.queue_arns[dlq].as_str(),
            "{queue}"
        );
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            "5"
        );
        let dlq_attributes = queue_attributes(&c.sqs, stack.queue_url(dlq).unwrap()).await;
        assert_eq!(
            dlq_attributes[&QueueAttributeName::MessageRetentionPeriod],
            "1209600"
        );
        assert_eq!(
            dlq_attributes[&QueueAttributeName::QueueArn],
            stack.queue_arns[dlq],
            "{dlq}"
        );
    }
}

#[tokio::test]
async fn function_env_resolves_every_reference() {
    let emulator = emulator().unwrap();
    let c = clients(&emulator).await;
    let stack = provision(&c.dynamodb, &c.sqs, &unique_prefix("prov"))
        .await
        .unwrap();

    // WHEN the shared environment is resolved with defaults
    let env = env_map(stack.function_env(&[]).unwrap());

    // THEN every variable has a concrete value from this stack or a parameter default
    assert_eq!(env["CHATHOOKS_TABLE"], stack.tables["Table"]);
    assert_eq!(
        env["CHATHOOKS_DELIVERY_QUEUE_URL"],
        stack.queues["DeliveryQueue"]
    );
    assert_eq!(env["CHATHOOKS_RETRY_QUEUE_URL"], stack.queues["RetryQueue"]);
    assert_eq!(env["CHATHOOKS_ALLOW_PRIVATE_TARGETS"], "false");
    assert_eq!(env["CHATHOOKS_ALLOW_HTTP"], "false");
    assert_eq!(env["CHATHOOKS_RETENTION_DAYS"], "30");
    assert_eq!(env["CHATHOOKS_MAX_RECEIVE_COUNT"], "5");
    assert_eq!(env["RUST_LOG"], "info");
    assert_eq!(
        env["CHATHOOKS_METRICS_NAMESPACE"],
        format!("Chathooks/{}", stack.prefix)
    );
    assert_eq!(env.len(), 9);
    assert!(!env.contains_key("CHATHOOKS_ADMIN_KEY"));
    for (name, value) in &env {
        assert!(
            !value.is_empty() && !value.contains("!Ref"),
            "{name}={value}"
        );
    }

    // AND overrides by variable or parameter name win over defaults
    let env = env_map(
        stack
            .function_env(&[
                ("CHATHOOKS_ALLOW_HTTP", "true"),
                ("AllowPrivateTargets", "true"),
            ])
            .unwrap(),
    );
    assert_eq!(env["CHATHOOKS_ALLOW_HTTP"], "true");
    assert_eq!(env["CHATHOOKS_ALLOW_PRIVATE_TARGETS"], "true");
    assert!(matches!(
        stack.function_env(&[("CHATHOOKS_TYPO", "1")]),
        Err(ProvisionError::UnknownOverride(_))
    ));
}

#[tokio::test]
async fn the_config_api_gets_the_admin_key_which_has_no_default() {
    let emulator = emulator().unwrap();
    let c = clients(&emulator).await;
    let stack = provision(&c.dynamodb, &c.sqs, &unique_prefix("prov"))
        .await
        .unwrap();
    let binaries: Vec<_> = stack.functions().into_iter().map(|(_, b)| b).collect();
    assert_eq!(
        binaries,
        vec![
            "config-api",
            "event-intake",
            "dispatcher",
            "retry-scheduler"
        ]
    );

    // GIVEN no admin key: the parameter has no default, so resolution names it
    let err = stack
        .function_env_for("ConfigApiFunction", &[])
        .unwrap_err();
    assert!(err.to_string().contains("AdminKey"), "{err}");

    // WHEN it is given as the parameter
    let key = "k".repeat(32);
    let env = env_map(
        stack
            .function_env_for("ConfigApiFunction", &[("AdminKey", &key)])
            .unwrap(),
    );
    // THEN the config API has it on top of the shared environment
    assert_eq!(env["CHATHOOKS_ADMIN_KEY"], key);
    assert_eq!(env["CHATHOOKS_TABLE"], stack.tables["Table"]);
    // AND the other functions never see it
    let intake = env_map(stack.function_env_for("EventIntakeFunction", &[]).unwrap());
    assert!(!intake.contains_key("CHATHOOKS_ADMIN_KEY"));
}

#[tokio::test]
async fn two_prefixes_in_one_emulator_do_not_collide() {
    let emulator = emulator().unwrap();
    let c = clients(&emulator).await;
    let a: Stack = provision(&c.dynamodb, &c.sqs, &unique_prefix("a"))
        .await
        .unwrap();
    let b: Stack = provision(&c.dynamodb, &c.sqs, &unique_prefix("b"))
        .await
        .unwrap();

    for (logical, name) in &a.tables {
        assert_ne!(name, &b.tables[logical]);
    }
    for (logical, url) in &a.queues {
        assert_ne!(url, &b.queues[logical]);
        assert_ne!(a.queue_arns[logical], b.queue_arns[logical]);
    }
    // A message sent to one stack's queue is not seen on the other's.
    c.sqs
        .send_message()
        .queue_url(&a.queues["DeliveryQueue"])
        .message_body("only-a")
        .send()
        .await
        .unwrap();
    let other = c
        .sqs
        .receive_message()
        .queue_url(&b.queues["DeliveryQueue"])
        .send()
        .await
        .unwrap();
    assert!(other.messages().is_empty());
    // (the emulator is shared with other tests: count this test's tables)
    let tables: Vec<String> = c
        .dynamodb
        .list_tables()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    let ours = tables
        .iter()
        .filter(|t| t.starts_with(&a.prefix) || t.starts_with(&b.prefix))
        .count();
    assert_eq!(ours, 2, "{tables:?}");

    // AND provisioning the same prefix again fails rather than sharing resources
    let again = provision(&c.dynamodb, &c.sqs, &a.prefix).await;
    assert!(
        matches!(again, Err(ProvisionError::Aws { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_bad_prefix_is_refused_before_any_call() {
    // Nothing listens on port 9: any call made would fail with an Aws error.
    let config = chathooks_tests::moto::sdk_config("http://127.0.0.1:9").await;
    let c = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        sqs: aws_sdk_sqs::Client::new(&config),
    };
    for prefix in ["", "has space", &"x".repeat(41)] {
        let result = provision(&c.dynamodb, &c.sqs, prefix).await;
        assert!(
            matches!(result, Err(ProvisionError::BadPrefix(_))),
            "{prefix:?}"
        );
    }
}

const PROVISIONED: [(&str, &str); 3] = [
    ("TableBillingMode", "PROVISIONED"),
    ("TableMinReadCapacity", "3"),
    ("TableMinWriteCapacity", "7"),
];

#[tokio::test]
async fn provisioned_billing_gives_the_table_and_gsi1_their_minimum_capacity() {
    // GIVEN the template deployed with provisioned billing and its own minimums
    let emulator = emulator().unwrap();
    let c = clients(&emulator).await;
    let template = Template::workspace_with(&PROVISIONED).unwrap();
    let stack = provision_template(template, &c.dynamodb, &c.sqs, &unique_prefix("prov"))
        .await
        .unwrap();

    // WHEN the table is described
    let table = c
        .dynamodb
        .describe_table()
        .table_name(stack.table("Table").unwrap())
        .send()
        .await
        .unwrap();
    let table = table.table().unwrap();

    // THEN the table and gsi1 start at the minimum read and write capacity
    let units = |t: Option<&aws_sdk_dynamodb::types::ProvisionedThroughputDescription>| {
        t.map(|t| (t.read_capacity_units(), t.write_capacity_units()))
    };
    assert_eq!(
        units(table.provisioned_throughput()),
        Some((Some(3), Some(7)))
    );
    let gsi = table
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some("gsi1"))
        .expect("gsi1 exists");
    assert_eq!(
        units(gsi.provisioned_throughput()),
        Some((Some(3), Some(7)))
    );
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PROVISIONED")
    );
    // AND the rest of the stack is what on-demand billing gives
    assert_eq!(stack.queues.len(), 4);
    assert_eq!(
        env_map(stack.function_env(&[]).unwrap())["CHATHOOKS_TABLE"],
        stack.tables["Table"]
    );
}

/// Renders references as `ref:X` / `att:X.Y`, to read the template's strings.
struct Symbolic;

impl Resolve for Symbolic {
    fn resolve_reference(&self, reference: &Reference) -> Result<String, ProvisionError> {
        Ok(match reference {
            Reference::Ref(n) => format!("ref:{n}"),
            Reference::GetAtt(r, a) => format!("att:{r}.{a}"),
        })
    }
}

fn text(value: &serde_yaml::Value) -> String {
    template::resolve_string(value, &Symbolic).unwrap()
}

#[test]
fn auto_scaling_is_declared_for_provisioned_billing_only() {
    // GIVEN the template with its defaults: on-demand billing, no capacity, no auto scaling
    let on_demand = Template::workspace().unwrap();
    assert_eq!(
        on_demand
            .parameter_default("TableBillingMode")
            .unwrap()
            .unwrap(),
        "PAY_PER_REQUEST"
    );
    let table = on_demand.resource("Table").unwrap().properties;
    assert_eq!(text(&table["BillingMode"]), "ref:TableBillingMode");
    assert!(table.get("ProvisionedThroughput").is_none(), "{table:?}");
    assert!(
        table["GlobalSecondaryIndexes"][0]
            .get("ProvisionedThroughput")
            .is_none()
    );
    assert!(
        on_demand
            .resources()
            .all(|r| !r.kind.starts_with("AWS::ApplicationAutoScaling::")),
        "auto scaling declared for on-demand billing"
    );

    // WHEN billing is provisioned
    let provisioned = Template::workspace_with(&PROVISIONED).unwrap();

    // THEN the table's and gsi1's read and write capacity each have a scalable target
    // from the min/max parameters, with the service-linked role (no RoleARN)
    let mut targets: Vec<(String, String, String, String)> = provisioned
        .resources()
        .filter(|r| r.kind == "AWS::ApplicationAutoScaling::ScalableTarget")
        .map(|r| {
            let p = r.properties;
            assert_eq!(p["ServiceNamespace"].as_str(), Some("dynamodb"));
            assert!(p.get("RoleARN").is_none(), "{}", r.logical_id);
            let dimension = p["ScalableDimension"].as_str().unwrap().to_string();
            let kind = if dimension.ends_with(":ReadCapacityUnits") {
                "Read"
            } else {
                "Write"
            };
            assert_eq!(
                text(&p["MinCapacity"]),
                format!("ref:TableMin{kind}Capacity")
            );
            assert_eq!(
                text(&p["MaxCapacity"]),
                format!("ref:TableMax{kind}Capacity")
            );
            (
                r.logical_id.to_string(),
                text(&p["ResourceId"]),
                dimension,
                kind.to_string(),
            )
        })
        .collect();
    targets.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
    let declared: Vec<_> = targets
        .iter()
        .map(|(_, id, dimension, _)| (id.as_str(), dimension.as_str()))
        .collect();
    assert_eq!(
        declared,
        [
            ("table/ref:Table", "dynamodb:table:ReadCapacityUnits"),
            ("table/ref:Table", "dynamodb:table:WriteCapacityUnits"),
            (
                "table/ref:Table/index/gsi1",
                "dynamodb:index:ReadCapacityUnits"
            ),
            (
                "table/ref:Table/index/gsi1",
                "dynamodb:index:WriteCapacityUnits"
            ),
            (
                "table/ref:Table/index/gsi2",
                "dynamodb:index:ReadCapacityUnits"
            ),
            (
                "table/ref:Table/index/gsi2",
                "dynamodb:index:WriteCapacityUnits"
            ),
        ]
    );

    // AND each target has one target-tracking policy on its own utilisation metric
    for (target, _, _, kind) in &targets {
        let policies: Vec<_> = provisioned
            .resources()
            .filter(|r| r.kind == "AWS::ApplicationAutoScaling::ScalingPolicy")
            .filter(|r| text(&r.properties["ScalingTargetId"]) == format!("ref:{target}"))
            .collect();
        assert_eq!(policies.len(), 1, "{target}");
        let p = policies[0].properties;
        assert_eq!(p["PolicyType"].as_str(), Some("TargetTrackingScaling"));
        let tracking = &p["TargetTrackingScalingPolicyConfiguration"];
        assert_eq!(text(&tracking["TargetValue"]), "ref:TableTargetUtilization");
        assert_eq!(
            tracking["PredefinedMetricSpecification"]["PredefinedMetricType"].as_str(),
            Some(format!("DynamoDB{kind}CapacityUtilization").as_str())
        );
    }
    let policies = provisioned
        .resources()
        .filter(|r| r.kind == "AWS::ApplicationAutoScaling::ScalingPolicy")
        .count();
    assert_eq!(policies, 6);
    assert_eq!(
        provisioned
            .parameter_default("TableTargetUtilization")
            .unwrap()
            .unwrap(),
        "70"
    );
}

#[test]
fn every_resource_type_is_provisioned_or_knowingly_left_out() {
    for parameters in [&[][..], &PROVISIONED[..]] {
        let template = Template::workspace_with(parameters).unwrap();
        for resource in template.resources() {
            assert!(
                EMULATED.contains(&resource.kind) || NOT_EMULATED.contains(&resource.kind),
                "{} is a {}: add the type to provision::EMULATED (and create it) \
                 or to provision::NOT_EMULATED",
                resource.logical_id,
                resource.kind
            );
        }
    }
}
