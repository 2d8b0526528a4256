#!/usr/bin/env python3
"""The local stack alone under load: its peak RSS and its CPU per delivery.

Runs `chathooks-local` (what `make dev` runs: the HTTP API, the emulated
event-source mappings and the four functions; moto in processes of its own)
as its own process, creates a tenant and one integration pointed at a
receiver on 127.0.0.1, posts chat.closed events with a ~2.5 KB transcript
from concurrent clients, one event per post, waits until each has arrived,
and reads the stack's peak RSS (VmHWM) and CPU time (utime + stime) from
/proc. The load and the receiver are this Python process, so nothing of
theirs is counted.

    cargo build --release -p chathooks-tests --bin chathooks-local
    python3 scripts/stack-under-load.py [--events 2000] [--concurrency 16] \
        [--bin target/release/chathooks-local]
"""
import argparse
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_rss_kib(pid):
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


def request(port, method, path, key, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"authorization": f"Bearer {key}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, payload


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bin", default="target/release/chathooks-local")
    args = parser.parse_args()

    arrived = set()
    lock = threading.Lock()

    class Receiver(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                arrived.add(self.headers.get("webhook-id"))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    port = free_port()
    env = dict(os.environ, PORT=str(port), CHATHOOKS_LOG_LEVEL="warn")
    stack = subprocess.Popen(
        [args.bin], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    admin = None
    for line in stack.stdout:
        if "admin key" in line:
            admin = line.split()[-1]
        if line.startswith("Walkthrough"):
            break
    if admin is None:
        sys.exit("chathooks-local did not print its admin key")
    threading.Thread(target=lambda: [None for _ in stack.stdout], daemon=True).start()
    try:
        status, body = request(port, "POST", "/v1/tenants", admin, {"name": "load"})
        assert status == 201, (status, body)
        key = json.loads(body)["api_key"]
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        status, body = request(
            port, "POST", "/v1/integrations", key,
            {"name": "load", "url": hook, "events": ["chat.closed"]},
        )
        assert status == 201, (status, body)
        messages = [
            {"author_type": "visitor" if i % 2 else "agent", "author_name": "Mary",
             "text": f"line {i} of a chat about an order that has not arrived yet",
             "sent_at": "2026-11-21T10:00:00Z"}
            for i in range(30)
        ]
        time.sleep(1)
        cpu0, t0 = proc_cpu_seconds(stack.pid), time.monotonic()
        next_event = iter(range(args.events))
        failures = []

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
            while True:
                with lock:
                    n = next(next_event, None)
                if n is None:
                    break
                event = {"id": f"load-{n}", "type": "chat.closed",
                         "chat": {"id": f"chat-{n}", "messages": messages}}
                conn.request("POST", "/v1/events", body=json.dumps(event), headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    failures.append(response.status)
            conn.close()

        clients = [threading.Thread(target=client) for _ in range(args.concurrency)]
        for c in clients:
            c.start()
        peak = 0
        while any(c.is_alive() for c in clients) or len(arrived) < args.events - len(failures):
            peak = max(peak, proc_rss_kib(stack.pid)[1])
            if time.monotonic() - t0 > 1800:
                sys.exit(f"only {len(arrived)} of {args.events} arrived in 30 minutes")
            time.sleep(0.2)
        cpu = proc_cpu_seconds(stack.pid) - cpu0
        wall = time.monotonic() - t0
        rss, hwm = proc_rss_kib(stack.pid)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.events} events, single posts from {args.concurrency} clients; "
              f"{len(arrived)} arrived, {len(failures)} posts refused, in {wall:.1f} s (load {load})")
        print(f"the stack's process: CPU {cpu:.2f} s = {cpu / max(len(arrived), 1) * 1e6:.0f} µs per delivery; "
              f"RSS now {rss / 1024:.1f} MiB, peak {max(peak, hwm) / 1024:.1f} MiB")
    finally:
        stack.terminate()
        stack.wait(timeout=30)
        receiver.shutdown()


if __name__ == "__main__":
    main()
