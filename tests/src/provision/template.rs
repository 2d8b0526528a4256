//! `template.yaml` read as plain YAML, and the few CloudFormation intrinsics
//! the emulator needs resolved (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`),
//! in their short (`!Ref X`) and long (`{"Ref": "X"}`) forms.
use serde_yaml::{Mapping, Value};
use std::path::Path;

use super::ProvisionError;

/// The parsed SAM/CloudFormation template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// One resource of the template.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub logical_id: &'a str,
    pub kind: &'a str,
    pub properties: &'a Value,
    pub metadata: &'a Value,
}

/// A reference the template makes to something by logical id or parameter name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `!Ref Name`: a parameter, a pseudo parameter or a resource.
    Ref(String),
    /// `!GetAtt Resource.Attribute`.
    GetAtt(String, String),
}

/// Resolves the references a template makes (the stack being provisioned).
pub trait Resolve {
    fn resolve_reference(&self, reference: &Reference) -> Result<String, ProvisionError>;
}

static NULL: Value = Value::Null;

impl Template {
    pub fn from_yaml(text: &str) -> Result<Self, ProvisionError> {
        let root: Value = serde_yaml::from_str(text).map_err(ProvisionError::Parse)?;
        if !root.is_mapping() {
            return Err(ProvisionError::template("the document is not a mapping"));
        }
        Ok(Self { root })
    }

    pub fn load(path: &Path) -> Result<Self, ProvisionError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProvisionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// The project's own `template.yaml`.
    pub fn workspace() -> Result<Self, ProvisionError> {
        Self::load(&crate::moto::workspace_root().join("template.yaml"))
    }

    /// Every resource, in the template's order.
    pub fn resources(&self) -> impl Iterator<Item = Resource<'_>> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flat_map(Mapping::iter)
            .filter_map(|(id, body)| {
                Some(Resource {
                    logical_id: id.as_str()?,
                    kind: body.get("Type")?.as_str()?,
                    properties: body.get("Properties").unwrap_or(&NULL),
                    metadata: body.get("Metadata").unwrap_or(&NULL),
                })
            })
    }

    pub fn resource(&self, logical_id: &str) -> Option<Resource<'_>> {
        self.resources().find(|r| r.logical_id == logical_id)
    }

    /// A parameter's declared `Default`, rendered as the string CloudFormation passes on.
    pub fn parameter_default(&self, name: &str) -> Option<Result<String, ProvisionError>> {
        let parameter = self.root.get("Parameters")?.get(name)?;
        Some(match parameter.get("Default") {
            Some(default) => scalar(default),
            None => Err(ProvisionError::Unresolved {
                what: name.to_string(),
                reason: "the parameter has no Default: pass an override".into(),
            }),
        })
    }

    pub fn has_parameter(&self, name: &str) -> bool {
        self.root
            .get("Parameters")
            .and_then(|p| p.get(name))
            .is_some()
    }

    /// `Globals.Function.Environment.Variables`, in declaration order.
    pub fn global_variables(&self) -> Vec<(&str, &Value)> {
        variables(
            self.root
                .get("Globals")
                .and_then(|g| g.get("Function"))
                .unwrap_or(&NULL),
        )
    }

    /// A function's own `Environment.Variables`.
    pub fn function_variables(
        &self,
        logical_id: &str,
    ) -> Result<Vec<(&str, &Value)>, ProvisionError> {
        let function = self
            .resource(logical_id)
            .filter(|r| r.kind == "AWS::Serverless::Function")
            .ok_or_else(|| {
                ProvisionError::template(format!("no AWS::Serverless::Function `{logical_id}`"))
            })?;
        Ok(variables(function.properties))
    }
}

fn variables(holder: &Value) -> Vec<(&str, &Value)> {
    holder
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flat_map(Mapping::iter)
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
        .collect()
}

/// A plain scalar as CloudFormation stringifies it.
fn scalar(value: &Value) -> Result<String, ProvisionError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(ProvisionError::template(format!(
            "expected a scalar, found {other:?}"
        ))),
    }
}

/// The intrinsic function a value is, if any: its name without `!`/`Fn::` and its argument.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            Some((tag.trim_start_matches('!').to_string(), &tagged.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            if k == "Ref" || k.starts_with("Fn::") {
                Some((k.trim_start_matches("Fn::").to_string(), v))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn get_att(argument: &Value) -> Result<Reference, ProvisionError> {
    let (resource, attribute) = match argument {
        Value::String(s) => s
            .split_once('.')
            .map(|(r, a)| (r.to_string(), a.to_string())),
        Value::Sequence(parts) => match parts.as_slice() {
            [Value::String(r), Value::String(a)] => Some((r.clone(), a.clone())),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| ProvisionError::template(format!("malformed GetAtt {argument:?}")))?;
    Ok(Reference::GetAtt(resource, attribute))
}

/// Every reference a value makes, however deeply nested.
pub fn references(value: &Value) -> Vec<Reference> {
    let mut found = Vec::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut Vec<Reference>) {
    if let Some((name, argument)) = intrinsic(value) {
        match name.as_str() {
            "Ref" => {
                if let Some(n) = argument.as_str() {
                    found.push(Reference::Ref(n.to_string()));
                }
            }
            "GetAtt" => {
                if let Ok(r) = get_att(argument) {
                    found.push(r);
                }
            }
            "Sub" => {
                let text = match argument {
                    Value::Sequence(s) => s.first().and_then(Value::as_str),
                    other => other.as_str(),
                };
                for placeholder in text.map(placeholders).unwrap_or_default() {
                    found.push(placeholder_reference(placeholder));
                }
                collect_references(argument, found);
            }
            _ => collect_references(argument, found),
        }
        return;
    }
    match value {
        Value::Sequence(items) => items.iter().for_each(|v| collect_references(v, found)),
        Value::Mapping(m) => m.values().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

/// The `${...}` placeholders of a `Fn::Sub` string (`${!Literal}` excluded).
fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        if !inner.starts_with('!') {
            out.push(inner);
        }
        rest = &after[end + 1..];
    }
    out
}

fn placeholder_reference(placeholder: &str) -> Reference {
    match placeholder.split_once('.') {
        Some((r, a)) if !placeholder.starts_with("AWS::") => {
            Reference::GetAtt(r.to_string(), a.to_string())
        }
        _ => Reference::Ref(placeholder.to_string()),
    }
}

/// Resolve a value to the string CloudFormation would pass on.
pub fn resolve_string(value: &Value, resolver: &dyn Resolve) -> Result<String, ProvisionError> {
    let Some((name, argument)) = intrinsic(value) else {
        return scalar(value);
    };
    match name.as_str() {
        "Ref" => {
            let target = argument
                .as_str()
                .ok_or_else(|| ProvisionError::template(format!("malformed Ref {argument:?}")))?;
            resolver.resolve_reference(&Reference::Ref(target.to_string()))
        }
        "GetAtt" => resolver.resolve_reference(&get_att(argument)?),
        "Sub" => substitute(argument, resolver),
        "Join" => {
            let (delimiter, items) = match argument.as_sequence().map(Vec::as_slice) {
                Some([Value::String(d), Value::Sequence(items)]) => (d, items),
                _ => {
                    return Err(ProvisionError::template(format!(
                        "malformed Join {argument:?}"
                    )));
                }
            };
            let parts = items
                .iter()
                .map(|v| resolve_string(v, resolver))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(parts.join(delimiter))
        }
        other => Err(ProvisionError::template(format!(
            "intrinsic `{other}` is not supported by the emulator provisioning"
        ))),
    }
}

fn substitute(argument: &Value, resolver: &dyn Resolve) -> Result<String, ProvisionError> {
    let (text, variables) = match argument {
        Value::String(s) => (s.as_str(), None),
        Value::Sequence(parts) => match parts.as_slice() {
            [Value::String(s), Value::Mapping(vars)] => (s.as_str(), Some(vars)),
            _ => {
                return Err(ProvisionError::template(format!(
                    "malformed Sub {argument:?}"
                )));
            }
        },
        _ => {
            return Err(ProvisionError::template(format!(
                "malformed Sub {argument:?}"
            )));
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            ProvisionError::template(format!("unterminated `${{` in Sub {text:?}"))
        })?;
        let inner = &after[..end];
        if let Some(literal) = inner.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else if let Some(value) = variables.and_then(|v| v.get(inner)) {
            out.push_str(&resolve_string(value, resolver)?);
        } else {
            out.push_str(&resolver.resolve_reference(&placeholder_reference(inner))?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolve a value into JSON (for attributes SQS takes as JSON, like `RedrivePolicy`):
/// intrinsics become strings, numbers and booleans stay what they are.
pub fn resolve_json(
    value: &Value,
    resolver: &dyn Resolve,
) -> Result<serde_json::Value, ProvisionError> {
    if intrinsic(value).is_some() {
        return resolve_string(value, resolver).map(serde_json::Value::String);
    }
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                n.as_f64()
                    .map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|v| resolve_json(v, resolver))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(m) => {
            let mut object = serde_json::Map::new();
            for (k, v) in m {
                let key = k
                    .as_str()
                    .ok_or_else(|| ProvisionError::template(format!("non-string key {k:?}")))?;
                object.insert(key.to_string(), resolve_json(v, resolver)?);
            }
            serde_json::Value::Object(object)
        }
        Value::Tagged(t) => {
            return Err(ProvisionError::template(format!(
                "unsupported tag {}",
                t.tag
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Resolve for Fixed {
        fn resolve_reference(&self, reference: &Reference) -> Result<String, ProvisionError> {
            Ok(match reference {
                Reference::Ref(n) => format!("ref:{n}"),
                Reference::GetAtt(r, a) => format!("att:{r}.{a}"),
            })
        }
    }

    fn value(yaml: &str) -> Value {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn short_and_long_forms_resolve_alike() {
        // GIVEN the same references written as YAML tags and as CloudFormation JSON
        for (short, long) in [
            ("!Ref Table", "{Ref: Table}"),
            ("!GetAtt Queue.Arn", "{'Fn::GetAtt': [Queue, Arn]}"),
            (
                "!Sub 'x-${Table}-${Queue.Arn}'",
                "{'Fn::Sub': 'x-${Table}-${Queue.Arn}'}",
            ),
        ] {
            // WHEN both are resolved THEN they give the same string
            let a = resolve_string(&value(short), &Fixed).unwrap();
            let b = resolve_string(&value(long), &Fixed).unwrap();
            assert_eq!(a, b, "{short} vs {long}");
        }
        assert_eq!(
            resolve_string(&value("!Sub 'a ${Table} ${!Kept} ${Q.Arn}'"), &Fixed).unwrap(),
            "a ref:Table ${Kept} att:Q.Arn"
        );
    }

    #[test]
    fn sub_with_a_variable_map_and_join() {
        let sub = value("!Sub ['${Name}/index/*', {Name: !GetAtt Table.Arn}]");
        assert_eq!(
            resolve_string(&sub, &Fixed).unwrap(),
            "att:Table.Arn/index/*"
        );
        let join = value("!Join ['-', [a, !Ref B, 3]]");
        assert_eq!(resolve_string(&join, &Fixed).unwrap(), "a-ref:B-3");
    }

    #[test]
    fn json_keeps_numbers_and_resolves_intrinsics() {
        let redrive = value("{deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 5}");
        assert_eq!(
            resolve_json(&redrive, &Fixed).unwrap(),
            serde_json::json!({"deadLetterTargetArn": "att:Dlq.Arn", "maxReceiveCount": 5})
        );
        assert_eq!(
            references(&redrive),
            vec![Reference::GetAtt("Dlq".into(), "Arn".into())]
        );
    }

    #[test]
    fn unsupported_intrinsics_are_named() {
        let err = resolve_string(&value("!ImportValue Other"), &Fixed).unwrap_err();
        assert!(err.to_string().contains("ImportValue"), "{err}");
    }

    #[test]
    fn the_workspace_template_declares_the_functions_and_globals() {
        let template = Template::workspace().unwrap();
        let names: Vec<_> = template
            .global_variables()
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert!(names.contains(&"CHATHOOKS_TABLE"), "{names:?}");
        assert_eq!(
            template
                .parameter_default("RetentionDays")
                .unwrap()
                .unwrap(),
            "30"
        );
        assert!(template.parameter_default("AdminKey").unwrap().is_err());
        assert!(template.parameter_default("Nope").is_none());
        let config_api = template.function_variables("ConfigApiFunction").unwrap();
        assert_eq!(config_api[0].0, "CHATHOOKS_ADMIN_KEY");
        assert!(template.function_variables("Table").is_err());
    }
}
