#!/usr/bin/env python3
"""Cold start of the four functions: bootstrap size and init time.

Init time is measured from spawning the release binary to its first
`GET /2018-06-01/runtime/invocation/next` on a local stand-in of the Lambda
runtime API (a tiny HTTP server on 127.0.0.1). The function gets the
CHATHOOKS_* variables, a region, dummy credentials and AWS_ENDPOINT_URL
pointing at a closed 127.0.0.1 port, so nothing leaves the machine.

    cargo build --release -p config-api -p event-intake -p dispatcher -p retry-scheduler
    python3 scripts/cold-start.py [--runs 20] [--target-dir target/release]

Each run appends its figures to the benchmarks' results file
(target/bench-results.jsonl, or --results / $BENCH_RESULTS), from which
scripts/bench-table.py prints BENCHMARKS.md's tables.
"""
import argparse
import datetime
import http.server
import json
import os
import sys
import socket
import statistics
import subprocess
import threading
import time

FUNCTIONS = ["config-api", "event-intake", "dispatcher", "retry-scheduler"]

first_next = threading.Event()
arrived_at = [0.0]


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.startswith("/2018-06-01/runtime/invocation/next"):
            arrived_at[0] = time.perf_counter()
            first_next.set()
            # Hold the long poll (as Lambda does) until the function is killed.
            time.sleep(2)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--target-dir",
        default=os.path.join(os.path.dirname(__file__), "..", "target", "release"),
        help="directory holding the four binaries, e.g. $CARGO_TARGET_DIR/release (default target/release)",
    )
    parser.add_argument(
        "--results",
        default=os.environ.get("BENCH_RESULTS")
        or os.path.join(os.path.dirname(__file__), "..", "target", "bench-results.jsonl"),
        help="results file the figures are appended to (default target/bench-results.jsonl)",
    )
    args = parser.parse_args()
    command = "python3 scripts/cold-start.py " + " ".join(sys.argv[1:])
    figures = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.handle_error = lambda *_: None  # the killed function's socket is gone: not an error
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"127.0.0.1:{server.server_address[1]}"
    nowhere = f"http://127.0.0.1:{closed_port()}"
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/chathooks-"

    print(f"runtime API stand-in at {api}; {args.runs} runs per function; host {os.uname().machine}")
    print(f"binaries from {os.path.abspath(args.target_dir)}; load average {load()}")
    print(f"{'function':<16} {'bootstrap':>10} {'median':>9} {'p95':>9} {'min':>9} {'max':>9}")
    for name in FUNCTIONS:
        binary = os.path.join(args.target_dir, name)
        size = os.path.getsize(binary)
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": api,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "cold-start",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": nowhere,
            "CHATHOOKS_TABLE": "chathooks-table",
            "CHATHOOKS_DELIVERY_QUEUE_URL": queue + "delivery",
            "CHATHOOKS_RETRY_QUEUE_URL": queue + "retry",
            "CHATHOOKS_ALLOW_PRIVATE_TARGETS": "false",
            "CHATHOOKS_ALLOW_HTTP": "false",
            "CHATHOOKS_RETENTION_DAYS": "30",
            "CHATHOOKS_ADMIN_KEY": "adm_" + "0" * 32,
            "RUST_LOG": "info",
        }
        times = []
        for _ in range(args.runs):
            first_next.clear()
            start = time.perf_counter()
            child = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            got = first_next.wait(10)
            child.kill()
            child.wait()
            if not got:
                raise SystemExit(f"{name}: no request to the runtime API within 10 s")
            times.append((arrived_at[0] - start) * 1000)
        times.sort()
        p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
        print(
            f"{name:<16} {size / 1e6:>8.2f} MB {statistics.median(times):>7.2f}ms {p95:>7.2f}ms"
            f" {times[0]:>7.2f}ms {times[-1]:>7.2f}ms"
        )
        figures += [
            (f"{name}/bootstrap_{os.uname().machine}", size / 1e6, "MB"),
            (f"{name}/init_median", statistics.median(times), "ms"),
            (f"{name}/init_p95", p95, "ms"),
            (f"{name}/init_min", times[0], "ms"),
            (f"{name}/init_max", times[-1], "ms"),
        ]
    print(f"load average {load()}")
    server.shutdown()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "a") as out:
        for fname, figure, unit in figures:
            line = {"bench": "cold-start", "name": fname, "figure": round(figure, 4), "unit": unit,
                    "command": command.strip(), "date": date, "load": os.getloadavg()[0]}
            out.write(json.dumps(line) + "\n")
    print(f"figures appended to {os.path.abspath(args.results)}")


if __name__ == "__main__":
    main()
