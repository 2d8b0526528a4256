#!/usr/bin/env python3
"""Regenerate events/*.json: API Gateway HTTP API (payload v2) and SQS samples
for every function, usable with `sam local invoke -e` and `cargo lambda invoke
--data-file`, and loaded by the tests. Run from the repository root:

    python3 scripts/gen-events.py

The shapes start from `sam local generate-event apigateway http-api-proxy` and
`sam local generate-event sqs receive-message`; edit this file, not the output.
"""
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

ADMIN_KEY = "example-admin-key-0123456789abcdef0123456789abcdef"
API_KEY = "chk_example_3f9c2a71d04b4e8fa6b51c0d9e7f2a38"
TENANT = "ten_0193c5e1a7b07000a1b2c3d4e5f60718"
INTEGRATION = "int_0193c5e1a7b07c3e8f2d4a6b9c1e3f50"
DELIVERY = "msg_5f1c9a0e7b3d2a4c6e8f0a1b2c3d4e5f"
# A source's URL token (`chs_` + 43 base62 characters); the tests replace it
# with the token of a source they create from config-api-create-source.
SOURCE_TOKEN = "chs_ExampleSourceToken0123456789abcdefghijklmno"
ROCKETCHAT_TOKEN = "rc-secret-token"
ACCOUNT = "123456789012"
REGION = "us-east-1"

CHAT_CLOSED = {
    "id": "evt-chat-42-closed",
    "type": "chat.closed",
    "occurred_at": "2026-01-01T10:15:42Z",
    "chat": {
        "id": "chat-42",
        "started_at": "2026-01-01T10:02:03Z",
        "ended_at": "2026-01-01T10:15:42Z",
        "last_message_at": "2026-01-01T10:15:30Z",
        "topic": "Order 1187 has not arrived",
        "department": "Support",
        "tags": ["shipping", "vip"],
        "custom_fields": {"order_id": "1187"},
        "messages": [
            {
                "id": "m1",
                "author_type": "visitor",
                "author_id": "visitor-7",
                "author_name": "Dana Reyes",
                "text": "Hi, my order 1187 has not arrived yet.",
                "sent_at": "2026-01-01T10:02:03Z",
            },
            {
                "id": "m2",
                "author_type": "agent",
                "author_id": "agent-3",
                "author_name": "Sam Okafor",
                "author_username": "sam.okafor",
                "text": "Sorry about that! It left our warehouse yesterday; here is the tracking link.",
                "sent_at": "2026-01-01T10:04:10Z",
            },
            {
                "id": "m3",
                "author_type": "supervisor",
                "author_id": "agent-1",
                "author_name": "Lee Park",
                "text": "Offer free shipping on the next order.",
                "sent_at": "2026-01-01T10:05:00Z",
                "whisper": True,
            },
            {
                "id": "m4",
                "author_type": "visitor",
                "author_id": "visitor-7",
                "author_name": "Dana Reyes",
                "text": "Great, thanks!",
                "sent_at": "2026-01-01T10:15:30Z",
            },
        ],
        "agents": [{"id": "agent-3", "name": "Sam Okafor", "email": "sam@example.com"}],
    },
    "visitor": {
        "id": "visitor-7",
        "name": "Dana Reyes",
        "email": "dana@example.com",
        "ip": "203.0.113.24",
        "browser": "Firefox 133",
        "os": "Linux",
        "city": "Lisbon",
        "country": "Portugal",
        "country_code": "PT",
    },
    "agent": {"id": "agent-3", "name": "Sam Okafor", "username": "sam.okafor", "email": "sam@example.com"},
}

BATCH = {
    "events": [
        {
            "id": "evt-chat-43-started",
            "type": "chat.started",
            "occurred_at": "2026-01-01T11:00:00Z",
            "chat": {"id": "chat-43", "started_at": "2026-01-01T11:00:00Z", "department": "Sales"},
            "visitor": {"id": "visitor-8", "name": "Ravi Menon", "email": "ravi@example.com"},
        },
        {
            "id": "evt-chat-43-m1",
            "type": "message.visitor",
            "occurred_at": "2026-01-01T11:00:05Z",
            "chat": {"id": "chat-43"},
            "visitor": {"id": "visitor-8", "name": "Ravi Menon"},
            "message": {
                "id": "m1",
                "author_type": "visitor",
                "author_id": "visitor-8",
                "text": "Do you offer volume discounts?",
                "sent_at": "2026-01-01T11:00:05Z",
            },
        },
        {
            "id": "evt-offline-9",
            "type": "offline_message",
            "occurred_at": "2026-01-01T23:40:00Z",
            "offline_message": {
                "name": "Ana Silva",
                "email": "ana@example.com",
                "department": "Support",
                "message": "Please call me back tomorrow morning.",
                "sent_at": "2026-01-01T23:40:00Z",
            },
        },
    ]
}

# Seed 004's body, exactly.
ROCKETCHAT_SETTINGS = {
    "LivechatWebhookUrl": "https://webhook/d548683u3-7f38ow-48ba-ieooefa-oejiduiw",
    "LivechatSecretToken": "",
    "LivechatHttpTimeout": 5000,
    "LivechatWebhookOnStart": True,
    "LivechatWebhookOnClose": True,
    "LivechatWebhookOnChatTaken": True,
    "LivechatWebhookOnChatQueued": False,
    "LivechatWebhookOnForward": False,
    "LivechatWebhookOnOfflineMsg": True,
    "LivechatWebhookOnVisitorMessage": True,
    "LivechatWebhookOnAgentMessage": True,
}


# Seed 002's LivechatSession example, as the golden file reproducing it holds it.
ROCKETCHAT_SESSION = json.loads(
    (ROOT / "shared" / "src" / "formats" / "golden" / "rocketchat" / "chat_closed.json").read_text()
)["expected"]


def http_event(n, method, path, route_key, body=None, query="", auth=API_KEY, extra_headers=None):
    headers = {
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if auth is not None:
        headers["authorization"] = f"Bearer {auth}"
    if body is not None:
        headers["content-type"] = "application/json"
    headers.update(extra_headers or {})
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": dict(sorted(headers.items())),
    }
    if query:
        params = {}
        for pair in query.split("&"):
            k, _, v = pair.partition("=")
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": ACCOUNT,
        "apiId": "abc123",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "curl/8.5.0",
        },
        "requestId": f"JKJaXmPLvHcESHA={n:03d}",
        "routeKey": route_key,
        "stage": "$default",
        "time": "01/Jan/2026:10:15:43 +0000",
        "timeEpoch": 1767262543000 + n,
    }
    if route_key.endswith("/{proxy+}"):
        event["pathParameters"] = {"proxy": path.lstrip("/")}
    elif route_key.endswith("/{token}"):
        event["pathParameters"] = {"token": path.rsplit("/", 1)[1]}
    if body is not None:
        event["body"] = json.dumps(body, separators=(",", ":"))
    event["isBase64Encoded"] = False
    return event


def config_api(n, method, path, body=None, **kw):
    return http_event(n, method, path, "ANY /{proxy+}", body, **kw)


def sqs_event(queue, messages):
    records = []
    for i, message in enumerate(messages):
        body = json.dumps(message, separators=(",", ":"))
        records.append(
            {
                "messageId": f"0c9e5f61-3b8e-4d5f-9a3b-{i:012d}",
                "receiptHandle": f"AQEBexample{i}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767262543000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1767262543010",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:chathooks-{queue}",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def job(kind, attempt, event, **extra):
    return {
        "type": kind,
        "delivery_id": DELIVERY,
        "tenant_id": TENANT,
        "integration_id": INTEGRATION,
        "event_id": event["id"],
        "event_type": event["type"],
        "attempt": attempt,
        "created_at": "2026-01-01T10:15:43Z",
        **extra,
    }


I = f"/v1/integrations/{INTEGRATION}"
SAMPLES = {
    "config-api-create-tenant": config_api(
        1, "POST", "/v1/tenants", {"name": "Acme Support"}, auth=ADMIN_KEY
    ),
    "config-api-create-integration": config_api(
        2,
        "POST",
        "/v1/integrations",
        {
            "name": "CRM transcripts",
            "url": "https://crm.example.com/hooks/chat",
            "format": "standard",
            "events": ["chat.closed", "offline_message"],
            "retry_policy": "standard",
            "timeout_ms": 10000,
            "headers": {"X-Crm-Account": "acme"},
        },
    ),
    "config-api-list-integrations": config_api(3, "GET", "/v1/integrations", query="limit=20"),
    "config-api-get-integration": config_api(4, "GET", I),
    "config-api-update-integration": config_api(
        5, "PATCH", I, {"name": "CRM transcripts (EU)", "timeout_ms": 5000, "events": ["chat.closed"], "ordering": "chat"}
    ),
    "config-api-delete-integration": config_api(6, "DELETE", I),
    "config-api-get-secret": config_api(7, "GET", f"{I}/secret"),
    "config-api-rotate-secret": config_api(8, "POST", f"{I}/secret/rotate", {}),
    "config-api-test-integration": config_api(9, "POST", f"{I}/test"),
    "config-api-list-deliveries": config_api(
        10, "GET", f"{I}/deliveries", query="status=failed&event_type=chat.closed&limit=20"
    ),
    "config-api-get-delivery": config_api(11, "GET", f"/v1/deliveries/{DELIVERY}"),
    "config-api-retry-delivery": config_api(12, "POST", f"/v1/deliveries/{DELIVERY}/retry"),
    "config-api-recover": config_api(
        13, "POST", f"{I}/recover", {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}
    ),
    "config-api-rocketchat-settings": config_api(
        14,
        "POST",
        "/api/v1/omnichannel/integrations",
        ROCKETCHAT_SETTINGS,
        auth=None,
        extra_headers={"x-auth-token": API_KEY, "x-user-id": "rbAXPnMktTFbNpwtJ"},
    ),
    "config-api-openapi": http_event(15, "GET", "/openapi.json", "GET /openapi.json", auth=None),
    "config-api-create-portal-session": config_api(
        18, "POST", "/v1/portal/sessions", {"read_only": True, "expires_in_seconds": 3600}
    ),
    "config-api-integration-stats": config_api(19, "GET", f"{I}/stats"),
    "config-api-create-api-key": config_api(20, "POST", "/v1/api-keys", {"name": "CRM sync"}),
    "config-api-list-api-keys": config_api(21, "GET", "/v1/api-keys"),
    "config-api-list-tenants": config_api(22, "GET", "/v1/tenants", query="limit=20", auth=ADMIN_KEY),
    "config-api-update-tenant": config_api(23, "PATCH", f"/v1/tenants/{TENANT}", {"suspended": False}, auth=ADMIN_KEY),
    "config-api-create-source": config_api(
        24,
        "POST",
        "/v1/sources",
        {"name": "Rocket.Chat production", "platform": "rocketchat", "secret": ROCKETCHAT_TOKEN},
    ),
    "event-intake-rocketchat-session": http_event(
        25,
        "POST",
        f"/in/{SOURCE_TOKEN}",
        "POST /in/{token}",
        ROCKETCHAT_SESSION,
        auth=None,
        extra_headers={"x-rocketchat-livechat-token": ROCKETCHAT_TOKEN},
    ),
    "event-intake-chat-closed": http_event(16, "POST", "/v1/events", "POST /v1/events", CHAT_CLOSED),
    "event-intake-batch": http_event(17, "POST", "/v1/events", "POST /v1/events", BATCH),
    "dispatcher-delivery": sqs_event("DeliveryQueue", [job("delivery.v1", 1, CHAT_CLOSED)]),
    "retry-scheduler-retry": sqs_event(
        "RetryQueue", [job("retry.v1", 4, CHAT_CLOSED, due_at="2026-01-01T12:46:00Z")]
    ),
}


def main():
    EVENTS.mkdir(exist_ok=True)
    for name, event in SAMPLES.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")
    print(f"wrote {len(SAMPLES)} samples to {EVENTS}")


if __name__ == "__main__":
    main()
