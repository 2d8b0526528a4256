//! The stack's tables and queues created in the emulator from `template.yaml`
//! itself, so the template stays the one source of truth: every
//! `AWS::DynamoDB::Table` and `AWS::SQS::Queue` is created under a
//! caller-chosen prefix (so each test gets its own), and the functions'
//! environment is the template's, with its references resolved to them.
//! Conditions are settled with the parameters' defaults, or the overrides
//! given to [`Template::workspace_with`] (see [`template`]).
pub mod template;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

pub use template::{Reference, Resolve, Template};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template.yaml is not valid YAML")]
    Parse(#[source] serde_yaml::Error),
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("cannot resolve `{what}`: {reason}")]
    Unresolved { what: String, reason: String },
    #[error("override `{0}` names neither an environment variable nor a parameter of the template")]
    UnknownOverride(String),
    #[error("prefix `{0}` must be 1-40 letters, digits, `-` or `_`")]
    BadPrefix(String),
    #[error("{action} `{resource}` failed")]
    Aws {
        action: &'static str,
        resource: String,
        #[source]
        source: BoxError,
    },
}

impl ProvisionError {
    pub(crate) fn template(message: impl Into<String>) -> Self {
        Self::Template(message.into())
    }

    fn aws(
        action: &'static str,
        resource: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Aws {
            action,
            resource: resource.to_string(),
            source: Box::new(source),
        }
    }
}

/// The resource types created in the emulator.
pub const EMULATED: &[&str] = &["AWS::DynamoDB::Table", "AWS::SQS::Queue"];

/// The resource types of the template the emulator leaves out on purpose:
/// the functions run in-process and the HTTP API is served locally (see
/// `local.rs`), and moto neither enforces DynamoDB capacity nor has anything
/// for Application Auto Scaling to scale.
pub const NOT_EMULATED: &[&str] = &[
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    // The operator's alarms, their topic and the dashboard: nothing the
    // functions call (their metrics are EMF log lines).
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::SNS::Topic",
];

/// The tables and queues provisioned for one prefix, by logical id.
#[derive(Debug, Clone)]
pub struct Stack {
    pub prefix: String,
    /// Logical id → table name.
    pub tables: BTreeMap<String, String>,
    pub table_arns: BTreeMap<String, String>,
    /// Logical id → queue URL.
    pub queues: BTreeMap<String, String>,
    pub queue_arns: BTreeMap<String, String>,
    template: Template,
}

/// A prefix no other test run will use: `label` plus random hex.
pub fn unique_prefix(label: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{label}-{}", &random[..10])
}

/// Provision every table and queue of the workspace's `template.yaml`.
pub async fn provision(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
) -> Result<Stack, ProvisionError> {
    provision_template(Template::workspace()?, dynamodb, sqs, prefix).await
}

/// Provision every table and queue of `template`.
pub async fn provision_template(
    template: Template,
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
) -> Result<Stack, ProvisionError> {
    if prefix.is_empty()
        || prefix.len() > 40
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ProvisionError::BadPrefix(prefix.to_string()));
    }
    let mut stack = Stack {
        prefix: prefix.to_string(),
        tables: BTreeMap::new(),
        table_arns: BTreeMap::new(),
        queues: BTreeMap::new(),
        queue_arns: BTreeMap::new(),
        template,
    };
    stack.create_tables(dynamodb).await?;
    stack.create_queues(sqs).await?;
    Ok(stack)
}

impl Stack {
    /// The table created for a logical id.
    pub fn table(&self, logical_id: &str) -> Option<&str> {
        self.tables.get(logical_id).map(String::as_str)
    }

    /// The URL of the queue created for a logical id.
    pub fn queue_url(&self, logical_id: &str) -> Option<&str> {
        self.queues.get(logical_id).map(String::as_str)
    }

    /// The template this stack was provisioned from.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Every function of the template: (logical id, binary name from its
    /// `Metadata.BuildProperties.Binary`).
    pub fn functions(&self) -> Vec<(String, String)> {
        self.template
            .resources()
            .filter(|r| r.kind == "AWS::Serverless::Function")
            .filter_map(|r| {
                let binary = r.metadata.get("BuildProperties")?.get("Binary")?.as_str()?;
                Some((r.logical_id.to_string(), binary.to_string()))
            })
            .collect()
    }

    /// The functions' environment as template.yaml's Globals declare it, with
    /// `!Ref` resolved to this stack's names/URLs and parameters to their
    /// defaults. An override is keyed by variable name or parameter name.
    pub fn function_env(
        &self,
        overrides: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ProvisionError> {
        self.environment(self.template.global_variables(), overrides)
    }

    /// One function's environment: the Globals' variables merged with its own
    /// (e.g. `CHATHOOKS_ADMIN_KEY` on `ConfigApiFunction`).
    pub fn function_env_for(
        &self,
        logical_id: &str,
        overrides: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ProvisionError> {
        let mut variables = self.template.global_variables();
        for (name, value) in self.template.function_variables(logical_id)? {
            match variables.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => variables.push((name, value)),
            }
        }
        self.environment(variables, overrides)
    }

    fn environment(
        &self,
        variables: Vec<(&str, &Value)>,
        overrides: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ProvisionError> {
        for (key, _) in overrides {
            if !variables.iter().any(|(n, _)| n == key) && !self.template.has_parameter(key) {
                return Err(ProvisionError::UnknownOverride(key.to_string()));
            }
        }
        let resolver = WithOverrides {
            stack: self,
            overrides,
        };
        variables
            .into_iter()
            .map(|(name, value)| {
                let resolved = match overrides.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => v.to_string(),
                    None => template::resolve_string(value, &resolver).map_err(|e| match e {
                        ProvisionError::Unresolved { what, reason } => ProvisionError::Unresolved {
                            what: format!("{name} (via {what})"),
                            reason,
                        },
                        other => other,
                    })?,
                };
                Ok((name.to_string(), resolved))
            })
            .collect()
    }

    fn physical_name(&self, logical_id: &str, suffix: &str) -> String {
        format!("{}-{logical_id}{suffix}", self.prefix)
    }

    async fn create_tables(
        &mut self,
        dynamodb: &aws_sdk_dynamodb::Client,
    ) -> Result<(), ProvisionError> {
        let specs: Vec<(String, Value)> = self
            .template
            .resources()
            .filter(|r| r.kind == "AWS::DynamoDB::Table")
            .map(|r| (r.logical_id.to_string(), r.properties.clone()))
            .collect();
        for (logical_id, properties) in specs {
            let name = self.physical_name(&logical_id, "");
            let arn = create_table(dynamodb, &name, &properties, self).await?;
            self.tables.insert(logical_id.clone(), name);
            self.table_arns.insert(logical_id, arn);
        }
        Ok(())
    }

    /// Queues are created in dependency order: a dead-letter queue before the
    /// queue whose `RedrivePolicy` names its ARN.
    async fn create_queues(&mut self, sqs: &aws_sdk_sqs::Client) -> Result<(), ProvisionError> {
        let mut pending: Vec<(String, Value)> = self
            .template
            .resources()
            .filter(|r| r.kind == "AWS::SQS::Queue")
            .map(|r| (r.logical_id.to_string(), r.properties.clone()))
            .collect();
        let queue_ids: Vec<String> = pending.iter().map(|(id, _)| id.clone()).collect();
        while !pending.is_empty() {
            let ready = pending.iter().position(|(_, properties)| {
                template::references(properties).iter().all(|r| {
                    let target = match r {
                        Reference::Ref(t) | Reference::GetAtt(t, _) => t,
                    };
                    !queue_ids.contains(target) || self.queues.contains_key(target)
                })
            });
            let Some(index) = ready else {
                let stuck: Vec<_> = pending.iter().map(|(id, _)| id.as_str()).collect();
                return Err(ProvisionError::template(format!(
                    "queues reference each other in a cycle: {}",
                    stuck.join(", ")
                )));
            };
            let (logical_id, properties) = pending.remove(index);
            self.create_queue(sqs, &logical_id, &properties).await?;
        }
        Ok(())
    }

    async fn create_queue(
        &mut self,
        sqs: &aws_sdk_sqs::Client,
        logical_id: &str,
        properties: &Value,
    ) -> Result<(), ProvisionError> {
        let fifo = properties.get("FifoQueue").and_then(Value::as_bool) == Some(true);
        let name = self.physical_name(logical_id, if fifo { ".fifo" } else { "" });
        let mut attributes = HashMap::new();
        for (property, value) in properties.as_mapping().into_iter().flatten() {
            let Some(property) = property.as_str() else {
                continue;
            };
            let rendered = match property {
                "VisibilityTimeout"
                | "MessageRetentionPeriod"
                | "DelaySeconds"
                | "MaximumMessageSize"
                | "ReceiveMessageWaitTimeSeconds"
                | "FifoQueue"
                | "ContentBasedDeduplication"
                | "SqsManagedSseEnabled" => template::resolve_string(value, self)?,
                "RedrivePolicy" | "RedriveAllowPolicy" => {
                    template::resolve_json(value, self)?.to_string()
                }
                // QueueName is replaced by the prefixed name; tags, KMS and
                // the rest do not change how the emulator behaves.
                _ => continue,
            };
            attributes.insert(QueueAttributeName::from(property), rendered);
        }
        let created = sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| ProvisionError::aws("CreateQueue", &name, e))?;
        let url = created
            .queue_url()
            .ok_or_else(|| ProvisionError::Unresolved {
                what: name.clone(),
                reason: "CreateQueue returned no URL".into(),
            })?
            .to_string();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| ProvisionError::aws("GetQueueAttributes", &name, e))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| ProvisionError::Unresolved {
                what: name.clone(),
                reason: "GetQueueAttributes returned no QueueArn".into(),
            })?;
        self.queues.insert(logical_id.to_string(), url);
        self.queue_arns.insert(logical_id.to_string(), arn);
        Ok(())
    }

    fn resolve_with(
        &self,
        reference: &Reference,
        overrides: &[(&str, &str)],
    ) -> Result<String, ProvisionError> {
        let unresolved = |what: String, reason: &str| ProvisionError::Unresolved {
            what,
            reason: reason.to_string(),
        };
        match reference {
            Reference::Ref(name) => {
                if let Some(name) = self.tables.get(name) {
                    return Ok(name.clone());
                }
                if let Some(url) = self.queues.get(name) {
                    return Ok(url.clone());
                }
                if let Some((_, v)) = overrides.iter().find(|(k, _)| k == name) {
                    return Ok(v.to_string());
                }
                if let Some(default) = self.template.parameter_default(name) {
                    return default;
                }
                match name.as_str() {
                    "AWS::Region" => Ok(crate::moto::REGION.to_string()),
                    "AWS::AccountId" => Ok(MOTO_ACCOUNT.to_string()),
                    "AWS::Partition" => Ok("aws".to_string()),
                    "AWS::URLSuffix" => Ok("amazonaws.com".to_string()),
                    "AWS::StackName" => Ok(self.prefix.clone()),
                    _ => Err(unresolved(
                        name.clone(),
                        "not a parameter, nor a table or queue provisioned in the emulator",
                    )),
                }
            }
            Reference::GetAtt(resource, attribute) => {
                let found = match attribute.as_str() {
                    "Arn" => self
                        .queue_arns
                        .get(resource)
                        .or_else(|| self.table_arns.get(resource))
                        .cloned(),
                    "QueueName" => self
                        .queues
                        .get(resource)
                        .and_then(|url| url.rsplit('/').next())
                        .map(str::to_string),
                    "QueueUrl" => self.queues.get(resource).cloned(),
                    _ => None,
                };
                found.ok_or_else(|| {
                    unresolved(
                        format!("{resource}.{attribute}"),
                        "not an attribute of a table or queue provisioned in the emulator",
                    )
                })
            }
        }
    }
}

/// moto's fixed account id.
const MOTO_ACCOUNT: &str = "123456789012";

impl Resolve for Stack {
    fn resolve_reference(&self, reference: &Reference) -> Result<String, ProvisionError> {
        self.resolve_with(reference, &[])
    }
}

struct WithOverrides<'a> {
    stack: &'a Stack,
    overrides: &'a [(&'a str, &'a str)],
}

impl Resolve for WithOverrides<'_> {
    fn resolve_reference(&self, reference: &Reference) -> Result<String, ProvisionError> {
        self.stack.resolve_with(reference, self.overrides)
    }
}

fn required_str<'a>(value: &'a Value, key: &str, context: &str) -> Result<&'a str, ProvisionError> {
    value.get(key).and_then(Value::as_str).ok_or_else(|| {
        ProvisionError::template(format!("{context}: `{key}` missing or not a string"))
    })
}

fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
}

fn key_schema(value: &Value, context: &str) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    list(value, "KeySchema")
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(required_str(k, "AttributeName", context)?)
                .key_type(KeyType::from(required_str(k, "KeyType", context)?))
                .build()
                .map_err(|e| ProvisionError::aws("build KeySchema", context, e))
        })
        .collect()
}

fn projection(value: &Value, context: &str) -> Result<Projection, ProvisionError> {
    let p = value.get("Projection").ok_or_else(|| {
        ProvisionError::template(format!("{context}: index without a Projection"))
    })?;
    let non_key: Option<Vec<String>> = p.get("NonKeyAttributes").map(|_| {
        list(p, "NonKeyAttributes")
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect()
    });
    Ok(Projection::builder()
        .projection_type(ProjectionType::from(required_str(
            p,
            "ProjectionType",
            context,
        )?))
        .set_non_key_attributes(non_key)
        .build())
}

/// `ProvisionedThroughput`, its units resolved (they are usually `!Ref` parameters).
fn throughput(
    value: &Value,
    context: &str,
    stack: &Stack,
) -> Result<Option<ProvisionedThroughput>, ProvisionError> {
    let Some(t) = value.get("ProvisionedThroughput") else {
        return Ok(None);
    };
    let units = |key: &str| -> Result<i64, ProvisionError> {
        let v = t.get(key).ok_or_else(|| {
            ProvisionError::template(format!("{context}: ProvisionedThroughput without `{key}`"))
        })?;
        let text = template::resolve_string(v, stack)?;
        text.parse().map_err(|_| {
            ProvisionError::template(format!("{context}: `{key}` is {text:?}, not a number"))
        })
    };
    ProvisionedThroughput::builder()
        .read_capacity_units(units("ReadCapacityUnits")?)
        .write_capacity_units(units("WriteCapacityUnits")?)
        .build()
        .map(Some)
        .map_err(|e| ProvisionError::aws("build ProvisionedThroughput", context, e))
}

/// Create one table as the template describes it, wait until it is active,
/// and switch its TTL on. Returns the table's ARN.
async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
    properties: &Value,
    stack: &Stack,
) -> Result<String, ProvisionError> {
    let attributes = list(properties, "AttributeDefinitions")
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(required_str(a, "AttributeName", name)?)
                .attribute_type(ScalarAttributeType::from(required_str(
                    a,
                    "AttributeType",
                    name,
                )?))
                .build()
                .map_err(|e| ProvisionError::aws("build AttributeDefinition", name, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let global_indexes = list(properties, "GlobalSecondaryIndexes")
        .map(|i| {
            let index = required_str(i, "IndexName", name)?;
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(key_schema(i, index)?))
                .projection(projection(i, index)?)
                .set_provisioned_throughput(throughput(i, index, stack)?)
                .build()
                .map_err(|e| ProvisionError::aws("build GlobalSecondaryIndex", index, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let local_indexes = list(properties, "LocalSecondaryIndexes")
        .map(|i| {
            let index = required_str(i, "IndexName", name)?;
            LocalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(key_schema(i, index)?))
                .projection(projection(i, index)?)
                .build()
                .map_err(|e| ProvisionError::aws("build LocalSecondaryIndex", index, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // CloudFormation's default, like the API's, is PROVISIONED.
    let billing = match properties.get("BillingMode") {
        Some(mode) => template::resolve_string(mode, stack)?,
        None => "PROVISIONED".to_string(),
    };
    let created = dynamodb
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(properties, name)?))
        .set_global_secondary_indexes((!global_indexes.is_empty()).then_some(global_indexes))
        .set_local_secondary_indexes((!local_indexes.is_empty()).then_some(local_indexes))
        .billing_mode(BillingMode::from(billing.as_str()))
        .set_provisioned_throughput(throughput(properties, name, stack)?)
        .send()
        .await
        .map_err(|e| ProvisionError::aws("CreateTable", name, e))?;
    let arn = created
        .table_description()
        .and_then(|d| d.table_arn())
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "arn:aws:dynamodb:{}:{MOTO_ACCOUNT}:table/{name}",
                crate::moto::REGION
            )
        });
    wait_until_active(dynamodb, name).await?;
    if let Some(ttl) = properties.get("TimeToLiveSpecification") {
        let enabled = ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(false);
        if enabled {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(required_str(ttl, "AttributeName", name)?)
                .enabled(true)
                .build()
                .map_err(|e| ProvisionError::aws("build TimeToLiveSpecification", name, e))?;
            dynamodb
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| ProvisionError::aws("UpdateTimeToLive", name, e))?;
        }
    }
    Ok(arn)
}

async fn wait_until_active(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    for _ in 0..100 {
        let described = dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| ProvisionError::aws("DescribeTable", name, e))?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ProvisionError::Unresolved {
        what: name.to_string(),
        reason: "the table did not become ACTIVE within 10 s".into(),
    })
}
