#!/usr/bin/env python3
"""Print BENCHMARKS.md's tables from the benchmarks' own results.

    python3 scripts/bench-table.py [--results target/bench-results.jsonl]
                                   [--criterion target/criterion] [--all]

Sources:
- target/bench-results.jsonl: one JSON line per figure, appended by every
  `chathooks-bench` run (e2e, emulator, emulator-path, batch10), by
  scripts/cold-start.py and by `make soak`: {"bench", "name", "figure",
  "unit", "command", "date", "load"}.
- target/criterion/**/new/estimates.json: criterion's estimates of the
  hot-path benchmarks (`cargo bench -p chathooks-tests --bench hot_paths`).

For each command the latest run is shown (--all: every run, oldest first),
with the verdict against the product's targets. Paste the output over the
tables of BENCHMARKS.md.
"""
import argparse
import glob
import json
import os
import sys
from collections import OrderedDict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# The targets (BENCHMARKS.md): name -> (limit, unit).
RENDER_SIGN_US = 10.0
INTAKE_US = 20.0
LATENCY_P50_MS = 50.0
LATENCY_P99_MS = 250.0
BATCH10_S = 1.5
BOOTSTRAP_MB = 10.0
INIT_MS = 20.0
COST_PER_MILLION = 1.00
FUNCTIONS = ["config-api", "event-intake", "dispatcher", "retry-scheduler"]


def verdict(ok):
    return "met" if ok else "**missed**"


def num(value, digits=1):
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def duration_ns(ns):
    if ns < 1_000:
        return f"{ns:.1f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.1f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def short_command(command):
    """The part of a command a table row needs: its flags or arguments."""
    for prefix in ("cargo run --release -p chathooks-tests --bin chathooks-bench -- ",):
        if command.startswith(prefix):
            return "`chathooks-bench " + command[len(prefix):].strip() + "`"
    return f"`{command.strip()}`"


def load_runs(path):
    """Runs as {(bench, command): [run, ...]}, each run {"date", "load", "figures": {name: figure}}."""
    runs = OrderedDict()
    if not os.path.exists(path):
        return runs
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
            key = (r["bench"], r["command"])
            per_command = runs.setdefault(key, [])
            # Lines of one run share bench, command and date.
            if not per_command or per_command[-1]["date"] != r["date"]:
                per_command.append({"date": r["date"], "load": r.get("load"), "figures": {}})
            per_command[-1]["figures"][r["name"]] = r["figure"]
    return runs


def selected(runs, bench, every):
    for (b, command), rs in runs.items():
        if b != bench:
            continue
        for run in rs if every else rs[-1:]:
            yield command, run


def criterion_estimates(directory):
    """{benchmark id: median in ns} from criterion's saved estimates."""
    found = {}
    for estimates in sorted(glob.glob(os.path.join(directory, "**", "new", "estimates.json"), recursive=True)):
        new = os.path.dirname(estimates)
        bench_id = os.path.relpath(os.path.dirname(new), directory)
        meta = os.path.join(new, "benchmark.json")
        if os.path.exists(meta):
            with open(meta) as f:
                bench_id = json.load(f).get("full_id", bench_id)
        with open(estimates) as f:
            found[bench_id] = json.load(f)["median"]["point_estimate"]
    return found


def hot_paths_table(estimates):
    print("| benchmark | median | target | verdict |")
    print("|---|---|---|---|")
    for bench_id, ns in sorted(estimates.items()):
        target, per = "", ns
        if bench_id.startswith("render_and_sign/") and "/short_" in bench_id:
            target = f"≤ {RENDER_SIGN_US:g} µs"
            ok = ns / 1000 <= RENDER_SIGN_US
        elif bench_id.startswith("intake/"):
            if bench_id.startswith("intake/batch_100"):
                per = ns / 100
            target = f"≤ {INTAKE_US:g} µs per event"
            ok = per / 1000 <= INTAKE_US
        shown = duration_ns(ns) + (f" ({duration_ns(per)} per event)" if per != ns else "")
        print(f"| `{bench_id}` | {shown} | {target or '–'} | {verdict(ok) if target else '–'} |")


def e2e_tables(runs, every):
    rows = list(selected(runs, "e2e", every))
    if not rows:
        return
    print("| command | deliveries | deliveries/s | latency p50 / p95 / p99 / max (ms) | POST p50 / p99 (ms) | moto CPU SQS / DynamoDB (s) | exactly once | every arrival logged | latency target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for command, run in rows:
        f = run["figures"]
        lat = " / ".join(num(f.get(k)) for k in ("latency_p50", "latency_p95", "latency_p99", "latency_max"))
        post = " / ".join(num(f.get(k)) for k in ("post_p50", "post_p99"))
        moto = " / ".join(num(f.get(k)) for k in ("moto_sqs_cpu", "moto_dynamodb_cpu"))
        once = "yes" if f.get("exactly_once") == 1 else f"no ({num(f.get('not_exactly_once'), 0)} ids)"
        logged = "yes" if f.get("every_arrival_logged") == 1 else "**no**"
        p50, p99 = f.get("latency_p50"), f.get("latency_p99")
        ok = p50 is not None and p99 is not None and p50 <= LATENCY_P50_MS and p99 <= LATENCY_P99_MS
        print(f"| {short_command(command)} | {num(f.get('deliveries'), 0)} | {num(f.get('sustained'))} | {lat} | {post} | {moto} | {once} | {logged} | {verdict(ok)} |")
    print()
    print("| command | API Gateway | Lambda requests | Lambda duration (moto) | SQS | DynamoDB writes | reads | WRU / RRU per delivery | **on demand** | **provisioned table** |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for command, run in rows:
        f = run["figures"]
        parts = " | ".join(num(f.get(k), 3) for k in (
            "cost_api_gateway", "cost_lambda_requests", "cost_lambda_duration", "cost_sqs",
            "cost_dynamodb_writes", "cost_dynamodb_reads"))
        units = f"{num(f.get('wru_per_delivery'), 2)} / {num(f.get('rru_per_delivery'), 2)}"
        print(f"| {short_command(command)} | {parts} | {units} | **${num(f.get('cost_on_demand'), 2)}** | **${num(f.get('cost_provisioned'), 2)}** |")


def simple_table(runs, bench, columns, every, check=None):
    rows = list(selected(runs, bench, every))
    if not rows:
        return False
    head = ["command"] + [title for title, _, _ in columns] + (["verdict"] if check else [])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for command, run in rows:
        f = run["figures"]
        cells = [short_command(command)] + [num(f.get(key), digits) for _, key, digits in columns]
        if check:
            cells.append(verdict(check(f)))
        print("| " + " | ".join(cells) + " |")
    return True


def cold_start_table(runs, every):
    rows = list(selected(runs, "cold-start", every))
    if not rows:
        return
    for command, run in rows:
        f = run["figures"]
        print(f"`{command.strip()}`:")
        print()
        print("| function | bootstrap | init median | p95 | min | max | verdict (≤ 10 MB, ≤ 20 ms) |")
        print("|---|---|---|---|---|---|---|")
        for name in FUNCTIONS:
            size = next((v for k, v in f.items() if k.startswith(f"{name}/bootstrap_")), None)
            arch = next((k.split("_", 1)[1] for k in f if k.startswith(f"{name}/bootstrap_")), "")
            median = f.get(f"{name}/init_median")
            ok = size is not None and median is not None and size <= BOOTSTRAP_MB and median <= INIT_MS
            print(f"| {name} | {num(size, 2)} MB ({arch}) | {num(median)} ms | {num(f.get(name + '/init_p95'))} ms"
                  f" | {num(f.get(name + '/init_min'))} ms | {num(f.get(name + '/init_max'))} ms | {verdict(ok)} |")
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=os.environ.get("BENCH_RESULTS") or os.path.join(ROOT, "target", "bench-results.jsonl"))
    parser.add_argument("--criterion", default=os.path.join(ROOT, "target", "criterion"))
    parser.add_argument("--all", action="store_true", help="every recorded run, not only the latest per command")
    args = parser.parse_args()
    runs = load_runs(args.results)
    estimates = criterion_estimates(args.criterion)
    if not runs and not estimates:
        sys.exit(f"no results: neither {args.results} nor {args.criterion}/**/new/estimates.json (run `make bench`)")

    if estimates:
        print("### CPU hot paths (criterion medians)\n")
        hot_paths_table(estimates)
        print()
    if any(b == "e2e" for b, _ in runs):
        print("### End to end on the local stack, and cost per million deliveries\n")
        e2e_tables(runs, args.all)
        print()
    if any(b == "batch10" for b, _ in runs):
        print("### A batch of ten deliveries to a one-second receiver\n")
        simple_table(runs, "batch10", [("min (s)", "min", 3), ("median (s)", "median", 3), ("max (s)", "max", 3)],
                     args.all, check=lambda f: (f.get("median") or 1e9) <= BATCH10_S)
        print()
    if any(b == "cold-start" for b, _ in runs):
        print("### Cold start\n")
        cold_start_table(runs, args.all)
    if any(b == "emulator" for b, _ in runs):
        print("### moto's SQS alone\n")
        simple_table(runs, "emulator", [("SendMessageBatch (messages/s)", "send", 1),
                                        ("ReceiveMessage + DeleteMessageBatch (messages/s)", "receive_delete", 1),
                                        ("moto SQS RSS (MiB)", "moto_sqs_rss", 1)], args.all)
        print()
    if any(b == "emulator-path" for b, _ in runs):
        print("### Each moto call of the delivery path (ms, p50 / p95 / p99 / max)\n")
        calls = [("PutItem (intake)", "put_item"), ("SendMessage (intake)", "send_message"),
                 ("queue wake-up", "wake_up"), ("GetItem (dispatcher)", "get_item")]
        print("| command | " + " | ".join(t for t, _ in calls) + " |")
        print("|" + "---|" * (len(calls) + 1))
        for command, run in selected(runs, "emulator-path", args.all):
            f = run["figures"]
            cells = [" / ".join(num(f.get(f"{k}_{s}")) for s in ("p50", "p95", "p99", "max")) for _, k in calls]
            print(f"| {short_command(command)} | " + " | ".join(cells) + " |")
        print()
    if any(b == "soak" for b, _ in runs):
        print("### Fault soak\n")
        simple_table(runs, "soak", [("events", "events", 0), ("deliveries", "deliveries", 0),
                                    ("attempts", "attempts", 0), ("duplicates", "duplicates", 0),
                                    ("lost", "lost", 0), ("all succeeded after (s)", "delivered_in", 0),
                                    ("duration with the log check (s)", "duration", 0)],
                     args.all, check=lambda f: f.get("lost") == 0 and f.get("mismatches") == 0)
        print()


if __name__ == "__main__":
    main()
