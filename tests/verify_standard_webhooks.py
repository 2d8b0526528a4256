"""Verify one webhook with the stock Standard Webhooks library, as a receiver would.

stdin: {"secret": "whsec_...", "headers": {...}, "body": "..."}; exit 0 when valid.
`json_parse=False`: the library would otherwise JSON-decode the body after
checking the signature, which an Olark form body is not.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

msg = json.load(sys.stdin)
Webhook(msg["secret"]).verify(msg["body"].encode(), msg["headers"], json_parse=False)
print("valid")
