"""A function host for dex-local-runner: serves the Lambda Invoke API on 127.0.0.1:PORT and
runs one Python durable function, `steps`, of N sequential trivial steps (N = the execution
input). It is the Python counterpart of the `Count` workflow in benches/http.rs.

    python steps.py PORT

The durable SDK talks to the emulator through boto3: set AWS_ENDPOINT_URL_LAMBDA to the
emulator and give boto3 any credentials and a region.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aws_durable_execution_sdk_python.context import DurableContext
from aws_durable_execution_sdk_python.execution import durable_execution


@durable_execution
def steps(event, context: DurableContext):
    n = int(event) if event is not None else 0
    total = 0
    for i in range(n):
        total = context.step(lambda _, i=i: i + 1, name="Count")
    return total


class Context:
    """The parts of the Lambda context object the SDK reads."""

    aws_request_id = "bench"
    function_name = "steps"
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:steps"

    @staticmethod
    def get_remaining_time_in_millis():
        return 900_000


class Host(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        event = json.loads(self.rfile.read(length) or b"null")
        try:
            body, headers = json.dumps(steps(event, Context())).encode(), {}
        except Exception as e:  # reported to the emulator as Lambda does
            body = json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}).encode()
            headers = {"X-Amz-Function-Error": "Unhandled"}
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Host)
    print("ready", flush=True)
    server.serve_forever()
