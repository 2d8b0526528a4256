"""moto's server for DynamoDB, handling one request at a time.

DynamoDB applies each write to an item atomically. moto's server is
threaded and applies an UpdateItem's SET clauses to the stored item in
place, so a read on another thread can see half of an update: a state no
DynamoDB reader could see. Serialising requests restores per-request
atomicity; DynamoDB calls are short, so nothing waits long (SQS, whose long
polls would hold the lock, runs in its own moto process, unchanged).

Usage: moto-dynamodb.py -H 127.0.0.1 -p PORT
"""
import argparse
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole body is produced under the lock.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
