#!/usr/bin/env python3
"""The IAM statements template.yaml grants each function, expanded by the SAM
translator (samtranslator, installed with aws-sam-cli): SAM policy templates
such as DynamoDBCrudPolicy become the statements AWS attaches to the
function's role, and the managed policies SAM adds (the SQS poller's) are
written out from their AWS definitions.

Usage: iam-policies.py [TEMPLATE]  (default: template.yaml beside this script's parent)
Prints JSON: {"<FunctionLogicalId>": [{"effect", "actions", "resources"}...]}.
Resources are ARN patterns with the deployment's values left as placeholders:
${AWS::Partition}, ${AWS::Region}, ${AWS::AccountId}, and ${<LogicalId>} for a
resource's name (a table's Ref, a queue's QueueName). The tests substitute
the local stack's values and check every AWS call a function makes against
its statements (tests/src/iam.rs).
"""
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# AWS managed policies SAM attaches (their documented content). Logging is
# CloudWatch Logs' business, not a call the functions make themselves.
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "effect": "Allow",
            "actions": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "resources": ["*"],
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "effect": "Allow",
            "actions": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "resources": ["*"],
        }
    ],
}

# What a resource attribute looks like as an ARN pattern.
ARN = {
    "AWS::DynamoDB::Table": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${%s}",
    "AWS::SQS::Queue": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${%s}",
}


class Unsupported(Exception):
    pass


def resolve(value, resources):
    """An intrinsic function as a string pattern (placeholders kept)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise Unsupported(f"resource value {value!r}")
    (fn, arg), = value.items()
    if fn == "Ref":
        if arg.startswith("AWS::"):
            return "${%s}" % arg
        kind = resources[arg]["Type"]
        if kind == "AWS::DynamoDB::Table":
            return "${%s}" % arg
        raise Unsupported(f"Ref to a {kind}")
    if fn == "Fn::GetAtt":
        logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        kind = resources[logical]["Type"]
        if attribute == "Arn":
            return ARN[kind] % logical
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return "${%s}" % logical
        raise Unsupported(f"GetAtt {logical}.{attribute}")
    if fn == "Fn::Sub":
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        for name, v in variables.items():
            text = text.replace("${%s}" % name, resolve(v, resources))
        # ${Logical.Attr} inside the string
        out, i = "", 0
        while True:
            j = text.find("${", i)
            if j < 0:
                out += text[i:]
                break
            k = text.index("}", j)
            name = text[j + 2 : k]
            out += text[i:j]
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                out += resolve({"Fn::GetAtt": [logical, attribute]}, resources)
            else:
                out += "${%s}" % name
            i = k + 1
        return out
    raise Unsupported(f"intrinsic {fn}")


def listify(x):
    return x if isinstance(x, list) else [x]


def expand(template_path):
    template = yaml_parse(open(template_path).read())
    for r in template["Resources"].values():
        if r["Type"] == "AWS::Serverless::Function":
            # The translator wants a deployable code location; it does not
            # change the role.
            r["Properties"]["CodeUri"] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    class NoManagedPolicies:
        def load(self):
            return {}

    out = transform(template, {}, NoManagedPolicies())
    resources = out["Resources"]
    policies = {}
    for logical, res in resources.items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        role_ref = res["Properties"]["Role"]["Fn::GetAtt"][0]
        role = resources[role_ref]["Properties"]
        statements = []
        for policy in role.get("Policies", []):
            for st in listify(policy["PolicyDocument"]["Statement"]):
                for key in ("NotAction", "NotResource", "Condition", "Principal"):
                    if key in st:
                        raise Unsupported(f"{logical}: statement with {key}")
                statements.append(
                    {
                        "effect": st["Effect"],
                        "actions": listify(st["Action"]),
                        "resources": [resolve(r, resources) for r in listify(st["Resource"])],
                    }
                )
        for arn in role.get("ManagedPolicyArns", []):
            if arn not in MANAGED:
                raise Unsupported(f"{logical}: managed policy {arn}")
            statements.extend(MANAGED[arn])
        policies[logical] = statements
    return policies


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "template.yaml")
    json.dump(expand(path), sys.stdout, indent=1, sort_keys=True)
    print()
