#!/usr/bin/env python3
"""A webhook receiver for the local walkthrough.

Verifies every request with the stock Standard Webhooks library
(`standardwebhooks`, PyPI) and prints the outcome. `--fail-first N` answers
500 to the first N requests, to show the retry.
"""
import argparse
import http.server
import json

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--secret", required=True, help="the integration's whsec_ secret")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    webhook = Webhook(args.secret)
    seen = {"count": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            seen["count"] += 1
            try:
                webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
                verdict = "signature OK"
            except WebhookVerificationError as e:
                verdict = f"signature INVALID ({e})"
            status = 500 if seen["count"] <= args.fail_first else 200
            print(f"receiver: request {seen['count']} webhook-id={self.headers.get('webhook-id')} {verdict} -> {status}", flush=True)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"ok": status == 200}).encode())

        def log_message(self, *_):
            pass

    http.server.HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
