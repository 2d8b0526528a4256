#!/usr/bin/env python3
"""Summarise folded stacks (inferno-collapse-perf output): share of samples
by thread, by leaf kind (kernel, allocator and memcpy, the rest), by the
innermost component owning the sample, and the top self frames.

    python3 scripts/profile-top.py target/profile/folded.txt
"""
import re
import sys
from collections import Counter

# The innermost frame matching one of these (leaf upwards) owns a sample.
COMPONENTS = [
    ("SigV4 signing", r"aws_sigv4"),
    ("SDK user agent", r"aws_runtime::user_agent|AwsUserAgent"),
    ("SDK endpoint resolution", r"endpoint_lib|resolve_endpoint|::endpoint::"),
    ("SDK retries / stalled-stream / timeouts", r"retries|stalled_stream|minimum_throughput|timeout::|token_bucket"),
    ("SDK identity / credentials cache", r"identity|credentials"),
    ("SDK (de)serializers", r"aws_sdk_(dynamodb|sqs)::protocol_serde|aws_smithy_json|aws_smithy_query|aws_smithy_xml"),
    ("SDK interceptors", r"interceptor"),
    ("SDK runtime components / config bag", r"runtime_components|config_bag|runtime_plugin|ConfigBag|Layer"),
    ("SDK orchestrator (rest)", r"aws_smithy_runtime|aws_smithy_runtime_api|aws_smithy_http|aws_smithy_types|aws_sdk_|aws_runtime|aws_types|aws_config"),
    ("HTTP client / server (hyper, reqwest, h2)", r"hyper|reqwest|http_body|h2::|httparse"),
    ("logging (tracing JSON)", r"tracing_subscriber|tracing_core|tracing::"),
    ("deflate", r"zlib_rs|flate2|miniz"),
    ("HMAC / SHA-256", r"sha2|hmac|digest"),
    ("JSON (serde_json)", r"serde_json|serde_dynamo|serde::"),
    ("chathooks (our code)", r"chathooks|dispatcher::|event_intake::|retry_scheduler::|config_api::|lambda_http"),
    ("core::fmt", r"core::fmt|alloc::fmt"),
    ("tokio runtime", r"tokio::"),
]
COMPONENTS = [(name, re.compile(rx)) for name, rx in COMPONENTS]
ALLOC = re.compile(r"^(malloc|free|cfree|realloc|calloc|_int_malloc|_int_free|_int_realloc|malloc_consolidate|__memmove|__memcpy|memmove|memcpy|__memset|memset|__libc_malloc|__libc_free|__libc_realloc|tcache|unlink_chunk|__rust_alloc|__rust_dealloc|__rust_realloc|alloc::alloc|<chathooks_tests::bench::alloc)")


def main(path):
    total = 0
    by_thread, by_leaf, by_component, by_self = Counter(), Counter(), Counter(), Counter()
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        n = int(n)
        frames = stack.split(";")
        total += n
        thread = re.sub(r"[-/]?\d+$", "", frames[0])
        by_thread[thread] += n
        leaf = frames[-1]
        by_self[leaf] += n
        if leaf.endswith("_[k]"):
            by_leaf["kernel"] += n
        elif ALLOC.search(leaf):
            by_leaf["malloc / free / memcpy / memmove"] += n
        else:
            by_leaf["user code"] += n
        owner = "other"
        for frame in reversed(frames[1:]):
            if frame.endswith("_[k]") or ALLOC.search(frame):
                continue
            hit = next((name for name, rx in COMPONENTS if rx.search(frame)), None)
            if hit:
                owner = hit
                break
        by_component[owner] += n
    if not total:
        print("no samples")
        return
    pct = lambda n: f"{100.0 * n / total:5.1f} %"
    print(f"{total} (perf sample weight) in the stack's threads\n")
    print("by thread:")
    for k, n in by_thread.most_common(12):
        print(f"  {pct(n)}  {k}")
    print("\nby leaf (where the CPU was when sampled):")
    for k, n in by_leaf.most_common():
        print(f"  {pct(n)}  {k}")
    print("\nby component (the innermost frame of a known component, leaf upwards; kernel and allocator frames go to their caller):")
    for k, n in by_component.most_common():
        print(f"  {pct(n)}  {k}")
    print("\ntop 25 self frames:")
    for k, n in by_self.most_common(25):
        print(f"  {pct(n)}  {k[:140]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/profile/folded.txt")
