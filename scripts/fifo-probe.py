#!/usr/bin/env python3
"""What moto's SQS FIFO queues do, against what AWS documents, for the
design of ordered delivery (BENCHMARKS.md, "Ordered delivery"): starts a
moto server on 127.0.0.1, runs each probe, prints one line per probe with
the documented AWS behaviour and moto's. Run: .venv/bin/python scripts/fifo-probe.py
"""
import socket
import subprocess
import sys
import time

import boto3
from botocore.exceptions import ClientError


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        sqs = boto3.client(
            "sqs",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        probe(sqs)
    finally:
        server.terminate()
        server.wait()


def queue(sqs, name, **attributes):
    attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "30"}
    attrs.update(attributes)
    return sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attrs)["QueueUrl"]


def report(name, aws, moto, same):
    verdict = "same" if same else "DIFFERS"
    print(f"{verdict:8} {name}: AWS {aws}; moto {moto}")


def probe(sqs):
    # 1. Per-message DelaySeconds on a FIFO queue.
    url = queue(sqs, "delay")
    try:
        sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", DelaySeconds=5)
        moto = "accepted"
    except ClientError as e:
        moto = f"refused ({e.response['Error']['Code']})"
    report("SendMessage with DelaySeconds on a FIFO queue", "refused (InvalidParameterValue)", moto,
           moto.startswith("refused"))

    # 2. A group's later message while its first is in flight.
    url = queue(sqs, "group")
    for body in ("a1", "a2", "b1"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body[0])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    got = [m["Body"] for m in first]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    later = sorted(m["Body"] for m in again)
    report(
        "receive while a1 (group a) is in flight",
        "['b1'] (group a blocked, group b delivered)",
        f"{later} (first receive {got})",
        got == ["a1"] and later == ["b1"],
    )

    # 3. A failed head kept in flight with ChangeMessageVisibility beyond 12 hours.
    if first:
        try:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=43201
            )
            moto = "accepted"
        except ClientError as e:
            moto = f"refused ({e.response['Error']['Code']})"
        report("ChangeMessageVisibility to 12 h + 1 s", "refused (InvalidParameterValue)", moto,
               moto.startswith("refused"))

    # 4. Deduplication within five minutes.
    url = queue(sqs, "dedup")
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    report("the same body sent twice (content-based dedup)", "1 message", f"{len(got)} message(s)",
           len(got) == 1)

    # 5. Messages of one group in one receive.
    url = queue(sqs, "batch")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    got = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    report("three messages of one group, one receive of 10", "up to all three, in order", str(got),
           got == ["m0", "m1", "m2"][: len(got)] and len(got) > 0)


if __name__ == "__main__":
    main()
