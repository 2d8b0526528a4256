//! `template.yaml` read as plain YAML, and the few CloudFormation intrinsics
//! the emulator needs resolved (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`),
//! in their short (`!Ref X`) and long (`{"Ref": "X"}`) forms.
//!
//! Conditions are settled when the template is loaded, with the parameters'
//! defaults (or the overrides given to [`Template::from_yaml_with`]), as
//! CloudFormation settles them at deploy time: a resource or output whose
//! `Condition` is false is dropped, `Fn::If` becomes the branch it picks, and
//! a property or list item that is `!Ref AWS::NoValue` is removed. What the
//! rest of the provisioning sees is the template as deployed.
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;
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
    /// The template as deployed with every parameter at its default.
    pub fn from_yaml(text: &str) -> Result<Self, ProvisionError> {
        Self::from_yaml_with(text, &[])
    }

    /// The template as deployed with `parameters` (name, value) overriding
    /// the defaults, like `sam deploy --parameter-overrides`.
    pub fn from_yaml_with(text: &str, parameters: &[(&str, &str)]) -> Result<Self, ProvisionError> {
        let mut root: Value = serde_yaml::from_str(text).map_err(ProvisionError::Parse)?;
        if !root.is_mapping() {
            return Err(ProvisionError::template("the document is not a mapping"));
        }
        for (name, value) in parameters {
            override_parameter(&mut root, name, value)?;
        }
        let root = settle_conditions(root)?;
        Ok(Self { root })
    }

    pub fn load(path: &Path) -> Result<Self, ProvisionError> {
        Self::load_with(path, &[])
    }

    pub fn load_with(path: &Path, parameters: &[(&str, &str)]) -> Result<Self, ProvisionError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProvisionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_with(&text, parameters)
    }

    /// The project's own `template.yaml`.
    pub fn workspace() -> Result<Self, ProvisionError> {
        Self::workspace_with(&[])
    }

    /// The project's own `template.yaml` with parameter overrides, e.g.
    /// `[("TableBillingMode", "PROVISIONED")]`.
    pub fn workspace_with(parameters: &[(&str, &str)]) -> Result<Self, ProvisionError> {
        Self::load_with(
            &crate::moto::workspace_root().join("template.yaml"),
            parameters,
        )
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

/// Make `value` the parameter's `Default`, refusing unknown parameters and
/// values outside `AllowedValues`.
fn override_parameter(root: &mut Value, name: &str, value: &str) -> Result<(), ProvisionError> {
    let parameter = root
        .get_mut("Parameters")
        .and_then(|p| p.get_mut(name))
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| ProvisionError::UnknownOverride(name.to_string()))?;
    if let Some(allowed) = parameter.get("AllowedValues").and_then(Value::as_sequence) {
        let allowed = allowed.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
        if !allowed.iter().any(|a| a == value) {
            return Err(ProvisionError::template(format!(
                "parameter `{name}`: `{value}` is not one of {allowed:?}"
            )));
        }
    }
    parameter.insert("Default".into(), Value::String(value.to_string()));
    Ok(())
}

/// The template with its conditions applied (see the module documentation).
fn settle_conditions(mut root: Value) -> Result<Value, ProvisionError> {
    let mut conditions = Conditions {
        parameters: root.get("Parameters").cloned().unwrap_or(Value::Null),
        declared: root.get("Conditions").cloned().unwrap_or(Value::Null),
        settled: BTreeMap::new(),
        evaluating: Vec::new(),
    };
    let Some(sections) = root.as_mapping_mut() else {
        return Ok(root);
    };
    for section in ["Resources", "Outputs"] {
        let Some(entries) = sections.get_mut(section).and_then(Value::as_mapping_mut) else {
            continue;
        };
        let mut kept = Mapping::new();
        for (id, body) in std::mem::take(entries) {
            if let Some(condition) = body.get("Condition") {
                let name = condition.as_str().ok_or_else(|| {
                    ProvisionError::template(format!("{id:?}: Condition is not a name"))
                })?;
                if !conditions.named(name)? {
                    continue;
                }
            }
            if let Some(body) = conditions.apply(&body)? {
                kept.insert(id, body);
            }
        }
        *entries = kept;
    }
    if let Some(globals) = sections.get_mut("Globals") {
        *globals = conditions.apply(globals)?.unwrap_or(Value::Null);
    }
    Ok(root)
}

/// The template's `Conditions`, evaluated on demand against the parameters' defaults.
struct Conditions {
    parameters: Value,
    declared: Value,
    settled: BTreeMap<String, bool>,
    /// The conditions being evaluated, outermost first (to refuse cycles).
    evaluating: Vec<String>,
}

impl Resolve for Conditions {
    fn resolve_reference(&self, reference: &Reference) -> Result<String, ProvisionError> {
        let name = match reference {
            Reference::Ref(name) if self.parameters.get(name.as_str()).is_some() => name,
            Reference::Ref(name) => return Err(not_in_condition(name.clone())),
            Reference::GetAtt(r, a) => return Err(not_in_condition(format!("{r}.{a}"))),
        };
        match self.parameters[name.as_str()].get("Default") {
            Some(default) => scalar(default),
            None => Err(ProvisionError::Unresolved {
                what: name.clone(),
                reason: "a condition uses the parameter, which has no Default: pass an override"
                    .into(),
            }),
        }
    }
}

fn not_in_condition(what: String) -> ProvisionError {
    ProvisionError::Unresolved {
        what,
        reason: "a condition may only compare parameters and literals".into(),
    }
}

impl Conditions {
    /// A condition of the `Conditions` section, by name.
    fn named(&mut self, name: &str) -> Result<bool, ProvisionError> {
        if let Some(settled) = self.settled.get(name) {
            return Ok(*settled);
        }
        if self.evaluating.iter().any(|n| n == name) {
            return Err(ProvisionError::template(format!(
                "conditions refer to each other in a cycle: {} -> {name}",
                self.evaluating.join(" -> ")
            )));
        }
        let body = self
            .declared
            .get(name)
            .cloned()
            .ok_or_else(|| ProvisionError::template(format!("no condition `{name}`")))?;
        self.evaluating.push(name.to_string());
        let value = self.evaluate(&body);
        self.evaluating.pop();
        let value = value?;
        self.settled.insert(name.to_string(), value);
        Ok(value)
    }

    /// A condition function: `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` or
    /// a `Condition` naming another one.
    fn evaluate(&mut self, body: &Value) -> Result<bool, ProvisionError> {
        if let Some(entries) = body.as_mapping()
            && entries.len() == 1
            && let Some(name) = entries.get("Condition")
        {
            return self.named_from(name);
        }
        let (function, argument) = intrinsic(body)
            .ok_or_else(|| ProvisionError::template(format!("not a condition: {body:?}")))?;
        let operands = || {
            argument.as_sequence().ok_or_else(|| {
                ProvisionError::template(format!("Fn::{function} takes a list: {argument:?}"))
            })
        };
        match function.as_str() {
            "Condition" => self.named_from(argument),
            "Equals" => match operands()?.as_slice() {
                [a, b] => Ok(resolve_string(a, self)? == resolve_string(b, self)?),
                _ => Err(ProvisionError::template("Fn::Equals takes two values")),
            },
            "Not" => match operands()?.as_slice() {
                [c] => Ok(!self.evaluate(c)?),
                _ => Err(ProvisionError::template("Fn::Not takes one condition")),
            },
            "And" => operands()?
                .iter()
                .try_fold(true, |all, c| Ok(self.evaluate(c)? && all)),
            "Or" => operands()?
                .iter()
                .try_fold(false, |any, c| Ok(self.evaluate(c)? || any)),
            other => Err(ProvisionError::template(format!(
                "`{other}` is not a condition function"
            ))),
        }
    }

    fn named_from(&mut self, name: &Value) -> Result<bool, ProvisionError> {
        let name = name
            .as_str()
            .ok_or_else(|| ProvisionError::template(format!("malformed Condition {name:?}")))?;
        self.named(name)
    }

    /// `value` with every `Fn::If` replaced by the branch it picks and every
    /// `AWS::NoValue` removed; `None` when `value` itself is no value.
    fn apply(&mut self, value: &Value) -> Result<Option<Value>, ProvisionError> {
        if let Some((function, argument)) = intrinsic(value) {
            match function.as_str() {
                "Ref" if argument.as_str() == Some("AWS::NoValue") => return Ok(None),
                "If" => {
                    let [condition, then, otherwise] = argument
                        .as_sequence()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                    else {
                        return Err(ProvisionError::template(format!(
                            "Fn::If takes a condition name and two values: {argument:?}"
                        )));
                    };
                    let picked = if self.named_from(condition)? {
                        then
                    } else {
                        otherwise
                    };
                    return self.apply(picked);
                }
                _ => {}
            }
        }
        Ok(Some(match value {
            Value::Sequence(items) => {
                let mut kept = Vec::with_capacity(items.len());
                for item in items {
                    kept.extend(self.apply(item)?);
                }
                Value::Sequence(kept)
            }
            Value::Mapping(entries) => {
                let mut kept = Mapping::new();
                for (k, v) in entries {
                    if let Some(v) = self.apply(v)? {
                        kept.insert(k.clone(), v);
                    }
                }
                Value::Mapping(kept)
            }
            Value::Tagged(tagged) => {
                let mut tagged = tagged.clone();
                tagged.value = self.apply(&tagged.value)?.unwrap_or(Value::Null);
                Value::Tagged(tagged)
            }
            scalar => scalar.clone(),
        }))
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

    const CONDITIONAL: &str = r#"
Parameters:
  Mode: {Type: String, Default: a, AllowedValues: [a, b]}
  Size: {Type: Number, Default: 5}
Conditions:
  IsB: !Equals [!Ref Mode, b]
  IsA: {"Fn::Not": [{Condition: IsB}]}
  Both: !And [!Condition IsB, !Equals ["5", !Ref Size]]
Resources:
  Always:
    Type: AWS::SQS::Queue
    Properties:
      DelaySeconds: !If [IsB, 10, !Ref AWS::NoValue]
      Tags:
        - !If [IsA, {Key: mode, Value: a}, !Ref AWS::NoValue]
        - {"Fn::If": [Both, {Key: both, Value: yes}, {Ref: AWS::NoValue}]}
  OnlyB:
    Type: AWS::SQS::Queue
    Condition: IsB
Outputs:
  OnlyB:
    Condition: Both
    Value: !Ref OnlyB
"#;

    #[test]
    fn conditions_settle_with_parameter_defaults() {
        // GIVEN a template whose resources, properties and outputs hang on conditions
        // WHEN it is loaded with the defaults
        let template = Template::from_yaml(CONDITIONAL).unwrap();

        // THEN the false branches are gone, NoValue properties and list items with them
        let ids: Vec<_> = template.resources().map(|r| r.logical_id).collect();
        assert_eq!(ids, ["Always"]);
        let always = template.resource("Always").unwrap().properties;
        assert!(always.get("DelaySeconds").is_none(), "{always:?}");
        assert_eq!(always["Tags"], value("[{Key: mode, Value: a}]"));
        assert!(template.root["Outputs"].get("OnlyB").is_none());
    }

    #[test]
    fn parameter_overrides_pick_the_other_branches() {
        // WHEN the parameter is overridden as `sam deploy --parameter-overrides` would
        let template = Template::from_yaml_with(CONDITIONAL, &[("Mode", "b")]).unwrap();

        // THEN the conditional resource, property and output are there
        let ids: Vec<_> = template.resources().map(|r| r.logical_id).collect();
        assert_eq!(ids, ["Always", "OnlyB"]);
        let always = template.resource("Always").unwrap().properties;
        assert_eq!(always["DelaySeconds"], value("10"));
        assert_eq!(always["Tags"], value("[{Key: both, Value: yes}]"));
        assert!(template.root["Outputs"].get("OnlyB").is_some());
        assert_eq!(template.parameter_default("Mode").unwrap().unwrap(), "b");

        // AND overrides the template would refuse are refused
        let err = Template::from_yaml_with(CONDITIONAL, &[("Mode", "c")]).unwrap_err();
        assert!(err.to_string().contains("not one of"), "{err}");
        assert!(matches!(
            Template::from_yaml_with(CONDITIONAL, &[("Typo", "b")]),
            Err(ProvisionError::UnknownOverride(_))
        ));
    }

    #[test]
    fn bad_conditions_are_named() {
        for (conditions, expected) in [
            ("A: !Condition B\n  B: !Not [!Condition A]", "cycle"),
            ("A: !Equals [!Ref Nope, x]", "Nope"),
            ("A: !Equals [!Ref NoDefault, x]", "no Default"),
            ("A: !Select [0, [x]]", "Select"),
        ] {
            let yaml = format!(
                "Parameters:\n  NoDefault: {{Type: String}}\nConditions:\n  {conditions}\n\
                 Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Condition: A\n"
            );
            let err = Template::from_yaml(&yaml).unwrap_err();
            let message = format!("{err}: {err:?}");
            assert!(message.contains(expected), "{conditions}: {message}");
        }
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
