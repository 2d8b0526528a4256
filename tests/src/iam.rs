//! Least privilege, checked on every local stack: each function's AWS
//! clients carry a recording interceptor ([`IamRecorder`]) that notes every
//! call as IAM sees it (function, action, resource ARN), and [`Policies`]
//! holds the statements `template.yaml` grants each function's role, as the
//! SAM translator expands them (`scripts/iam-policies.py`). A small
//! evaluator decides each call: allowed when an `Allow` statement matches its
//! action (IAM wildcards, case-insensitive) and its resource (wildcards,
//! `index/*` included) and no `Deny` does. `LocalStack` checks its calls when
//! it is dropped: a call the role does not allow fails the test that made it.
//!
//! Why not moto's own IAM enforcement (`INITIAL_NO_AUTH_ACTION_COUNT`):
//! moto 5.2 checks action names, and resources only for SQS; DynamoDB
//! requests are checked against the resource `*`, so a statement scoped to
//! the table (every statement SAM writes) never matches and every call is
//! denied; `TransactWriteItems` is checked as an action of its own, where
//! AWS checks each item's action; the request counter is global to the moto
//! process that all tests share. The evaluator here checks what AWS checks
//! for the calls chathooks makes.
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::moto::REGION;
use crate::provision::Stack;

/// The four functions' logical ids in template.yaml.
pub const CONFIG_API: &str = "ConfigApiFunction";
pub const EVENT_INTAKE: &str = "EventIntakeFunction";
pub const DISPATCHER: &str = "DispatcherFunction";
pub const RETRY_SCHEDULER: &str = "RetrySchedulerFunction";

/// One AWS call as IAM authorizes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub function: String,
    /// `service:Action`, e.g. `dynamodb:PutItem`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} on {}", self.function, self.action, self.resource)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

impl Statement {
    fn matches(&self, action: &str, resource: &str) -> bool {
        self.actions
            .iter()
            .any(|p| glob(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|p| glob(p, resource))
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Each function's statements (logical id → statements).
#[derive(Debug, Clone, PartialEq)]
pub struct Policies(pub BTreeMap<String, Vec<Statement>>);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

impl Policies {
    /// Expand `template` with the SAM translator (the project venv's Python).
    pub fn expand(template: &Path) -> Result<Self, String> {
        let root = workspace();
        let venv = root.join(".venv/bin/python");
        let python = if venv.exists() {
            venv
        } else {
            PathBuf::from("python3")
        };
        let out = std::process::Command::new(&python)
            .arg(root.join("scripts/iam-policies.py"))
            .arg(template)
            .output()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/iam-policies.py failed (make venv installs samtranslator): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let json: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        let mut functions = BTreeMap::new();
        for (function, statements) in json.as_object().ok_or("not an object")? {
            let list = statements
                .as_array()
                .ok_or("not a list")?
                .iter()
                .map(|s| {
                    let strings = |key: &str| -> Vec<String> {
                        s[key]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    };
                    Statement {
                        allow: s["effect"] == "Allow",
                        actions: strings("actions"),
                        resources: strings("resources"),
                    }
                })
                .collect();
            functions.insert(function.clone(), list);
        }
        Ok(Self(functions))
    }

    /// The workspace's template.yaml, expanded once per process.
    pub fn template() -> Result<&'static Policies, String> {
        static POLICIES: OnceLock<Result<Policies, String>> = OnceLock::new();
        POLICIES
            .get_or_init(|| Self::expand(&workspace().join("template.yaml")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The statements with the placeholders filled in for a provisioned
    /// stack: partition, region, account, table and queue names.
    pub fn for_stack(&self, stack: &Stack) -> Result<Policies, String> {
        let account = stack
            .table_arns
            .values()
            .next()
            .and_then(|arn| arn.split(':').nth(4))
            .ok_or("no table ARN to read the account from")?
            .to_string();
        let mut values: Vec<(String, String)> = vec![
            ("${AWS::Partition}".into(), "aws".into()),
            ("${AWS::Region}".into(), REGION.into()),
            ("${AWS::AccountId}".into(), account),
        ];
        for (logical, name) in &stack.tables {
            values.push((format!("${{{logical}}}"), name.clone()));
        }
        for (logical, url) in &stack.queues {
            let name = url.rsplit('/').next().unwrap_or_default().to_string();
            values.push((format!("${{{logical}}}"), name));
        }
        let fill = |pattern: &String| -> Result<String, String> {
            let mut out = pattern.clone();
            for (placeholder, value) in &values {
                out = out.replace(placeholder, value);
            }
            if out.contains("${") {
                return Err(format!("unresolved placeholder in {pattern}"));
            }
            Ok(out)
        };
        let mut functions = BTreeMap::new();
        for (function, statements) in &self.0 {
            let mut list = Vec::new();
            for s in statements {
                list.push(Statement {
                    allow: s.allow,
                    actions: s.actions.clone(),
                    resources: s.resources.iter().map(fill).collect::<Result<_, _>>()?,
                });
            }
            functions.insert(function.clone(), list);
        }
        Ok(Policies(functions))
    }

    /// Whether `call` is allowed to its function's role.
    pub fn allows(&self, call: &Call) -> bool {
        let Some(statements) = self.0.get(&call.function) else {
            return false;
        };
        let matching = statements
            .iter()
            .filter(|s| s.matches(&call.action, &call.resource));
        let mut allowed = false;
        for s in matching {
            if !s.allow {
                return false;
            }
            allowed = true;
        }
        allowed
    }

    /// The calls among `calls` that their function's role does not allow.
    pub fn denied<'a>(&self, calls: impl IntoIterator<Item = &'a Call>) -> Vec<Call> {
        calls
            .into_iter()
            .filter(|c| !self.allows(c))
            .cloned()
            .collect()
    }
}

/// Records every AWS call of the clients it is attached to, per function.
#[derive(Debug, Clone, Default)]
pub struct IamRecorder {
    calls: Arc<Mutex<BTreeSet<Call>>>,
}

impl IamRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An interceptor recording the calls of `function`'s clients.
    pub fn interceptor(&self, function: &str) -> SharedInterceptor {
        SharedInterceptor::new(Tagged {
            function: function.to_string(),
            calls: self.calls.clone(),
        })
    }

    /// Every distinct call recorded so far.
    pub fn calls(&self) -> BTreeSet<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[derive(Debug)]
struct Tagged {
    function: String,
    calls: Arc<Mutex<BTreeSet<Call>>>,
}

impl Intercept for Tagged {
    fn name(&self) -> &'static str {
        "IamRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let body = context.request().body().bytes().unwrap_or_default();
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let account = account_of(&json);
        let authorized = authorizations(metadata.service(), metadata.name(), &json, &account);
        if let Ok(mut calls) = self.calls.lock() {
            for (action, resource) in authorized {
                calls.insert(Call {
                    function: self.function.clone(),
                    action,
                    resource,
                });
            }
        }
        Ok(())
    }
}

/// The account a request names: an SQS queue URL's path carries it; moto's
/// DynamoDB is account 123456789012 unless told otherwise.
fn account_of(json: &Value) -> String {
    json["QueueUrl"]
        .as_str()
        .and_then(|url| url.rsplit('/').nth(1))
        .filter(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or("123456789012")
        .to_string()
}

/// What IAM authorizes for one request: (action, resource) pairs. A
/// transaction is authorized item by item (each item's own action); a batch
/// of SQS entries by the single-message action.
pub fn authorizations(
    service: &str,
    operation: &str,
    request: &Value,
    account: &str,
) -> Vec<(String, String)> {
    let table = |name: &str| format!("arn:aws:dynamodb:{REGION}:{account}:table/{name}");
    match service.to_ascii_lowercase().as_str() {
        "dynamodb" => match operation {
            "TransactWriteItems" | "TransactGetItems" => request["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    let (kind, body) = item.as_object()?.iter().next()?;
                    let action = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        "ConditionCheck" => "ConditionCheckItem",
                        "Get" => "GetItem",
                        _ => kind.as_str(),
                    };
                    Some((
                        format!("dynamodb:{action}"),
                        table(body["TableName"].as_str().unwrap_or("?")),
                    ))
                })
                .collect(),
            "BatchGetItem" | "BatchWriteItem" => request["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.keys())
                .map(|name| (format!("dynamodb:{operation}"), table(name)))
                .collect(),
            _ => {
                let resource = match (request["TableName"].as_str(), request["IndexName"].as_str())
                {
                    (Some(t), Some(i)) => format!("{}/index/{i}", table(t)),
                    (Some(t), None) => table(t),
                    _ => "*".to_string(),
                };
                vec![(format!("dynamodb:{operation}"), resource)]
            }
        },
        "sqs" => {
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            let resource = request["QueueUrl"]
                .as_str()
                .and_then(|url| url.rsplit('/').next())
                .map(|name| format!("arn:aws:sqs:{REGION}:{account}:{name}"))
                .unwrap_or_else(|| "*".to_string());
            vec![(format!("sqs:{action}"), resource)]
        }
        other => vec![(format!("{other}:{operation}"), "*".to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(glob("sqs:SendMessage*", "sqs:SendMessage"));
        assert!(glob("sqs:SendMessage*", "sqs:SendMessageBatch"));
        assert!(!glob("sqs:SendMessage*", "sqs:ReceiveMessage"));
        assert!(glob(
            "arn:aws:dynamodb:r:1:table/t/index/*",
            "arn:aws:dynamodb:r:1:table/t/index/gsi1"
        ));
        assert!(!glob(
            "arn:aws:dynamodb:r:1:table/t/index/*",
            "arn:aws:dynamodb:r:1:table/t"
        ));
        assert!(!glob(
            "arn:aws:dynamodb:r:1:table/t",
            "arn:aws:dynamodb:r:1:table/t2"
        ));
        assert!(glob("dynamodb:?etItem", "dynamodb:GetItem"));
        assert!(glob("*", "anything"));
    }

    #[test]
    fn a_transaction_is_authorized_item_by_item_and_an_index_query_on_the_index() {
        let tx = json!({"TransactItems": [
            {"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}
        ]});
        assert_eq!(
            authorizations("DynamoDB", "TransactWriteItems", &tx, "1"),
            vec![
                (
                    "dynamodb:PutItem".to_string(),
                    format!("arn:aws:dynamodb:{REGION}:1:table/t")
                ),
                (
                    "dynamodb:ConditionCheckItem".to_string(),
                    format!("arn:aws:dynamodb:{REGION}:1:table/t")
                ),
            ]
        );
        let q = json!({"TableName": "t", "IndexName": "gsi1"});
        assert_eq!(
            authorizations("DynamoDB", "Query", &q, "1")[0].1,
            format!("arn:aws:dynamodb:{REGION}:1:table/t/index/gsi1")
        );
        let batch = json!({"QueueUrl": "http://127.0.0.1:1/123/q"});
        assert_eq!(
            authorizations("SQS", "SendMessageBatch", &batch, &account_of(&batch)),
            vec![(
                "sqs:SendMessage".to_string(),
                format!("arn:aws:sqs:{REGION}:123:q")
            )]
        );
    }

    #[test]
    fn a_deny_wins_and_no_statement_denies() {
        let call = Call {
            function: "F".into(),
            action: "dynamodb:DeleteItem".into(),
            resource: "arn:aws:dynamodb:r:1:table/t".into(),
        };
        let allow = Statement {
            allow: true,
            actions: vec!["dynamodb:*".into()],
            resources: vec!["arn:aws:dynamodb:r:1:table/t".into()],
        };
        let mut policies = Policies(BTreeMap::from([("F".to_string(), vec![allow.clone()])]));
        assert!(policies.allows(&call));
        policies.0.get_mut("F").unwrap().push(Statement {
            allow: false,
            actions: vec!["dynamodb:DeleteItem".into()],
            resources: vec!["*".into()],
        });
        assert!(!policies.allows(&call));
        let other = Call {
            function: "G".into(),
            ..call
        };
        assert!(!policies.allows(&other));
    }
}
