"""boto3 against durable-fsm's local durable service: Invoke and every durable API call.

Usage: python boto3_smoke.py SERVICE_URL

The service invokes the test's function host, which serves `desk` (opens a callback "approve"
with a 3600 s timeout and a 600 s heartbeat, and ends with the callback's body or
"failed:<ErrorType>") and `echo` (ends with its input). Run by tests/boto3.rs.

Prints `boto3: N checks passed` last and exits 0; any failed check raises (exit 1).
"""

import json
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

POLL_TIMEOUT = 10.0
POLL_INTERVAL = 0.05
UNKNOWN_ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:desk:$LATEST"
    "/durable-execution/nobody/00000000-0000-4000-8000-000000000000"
)
UNKNOWN_CALLBACK_ID = "bm9ib2R5LWtub3dzLXRoaXMtY2FsbGJhY2s="
MADE_UP_TOKEN = "bWFkZS11cC10b2tlbg=="

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


def expect_error(code, call, **params):
    """Calls `call(**params)`, which must fail with the AWS error `code`; returns the error."""
    name = getattr(call, "__name__", "call")
    try:
        result = call(**params)
    except ClientError as e:
        error = e.response["Error"]
        check(error["Code"] == code, f"{name}: expected {code}, got {error}")
        return error
    raise AssertionError(f"{name} succeeded with {result}; expected {code}")


def eventually(what, probe):
    deadline = time.monotonic() + POLL_TIMEOUT
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {POLL_TIMEOUT} s waiting for {what}")
        time.sleep(POLL_INTERVAL)


def events_of(lam, arn):
    return lam.get_durable_execution_history(
        DurableExecutionArn=arn, IncludeExecutionData=True, MaxItems=1000
    )["Events"]


def start_desk(lam, name):
    """Starts `desk` with an Event invoke; waits for its callback and the end of the first
    invocation. Returns (arn, callback id, history)."""
    payload = json.dumps({"desk": name}, separators=(",", ":"))
    r = lam.invoke(
        FunctionName="desk",
        InvocationType="Event",
        DurableExecutionName=name,
        Payload=payload.encode(),
    )
    check(r["StatusCode"] == 202, f"Event invoke: {r}")
    arn = r.get("DurableExecutionArn", "")
    check(f"/durable-execution/{name}/" in arn, f"Event invoke ARN: {arn!r}")

    def opened():
        events = events_of(lam, arn)
        types = [e["EventType"] for e in events]
        if "CallbackStarted" not in types:
            return None
        if "InvocationCompleted" not in types[types.index("CallbackStarted"):]:
            return None
        started = events[types.index("CallbackStarted")]
        return started["CallbackStartedDetails"]["CallbackId"], events

    callback_id, events = eventually(f"the callback of {name}", opened)
    return arn, callback_id, events


def wait_for_end(lam, arn):
    def ended():
        e = lam.get_durable_execution(DurableExecutionArn=arn)
        return e if e["Status"] != "RUNNING" else None

    return eventually(f"the end of {arn}", ended)


def listed(lam, statuses=None):
    params = {"FunctionName": "desk"}
    if statuses:
        params["Statuses"] = statuses
    executions = lam.list_durable_executions_by_function(**params)["DurableExecutions"]
    return {e["DurableExecutionArn"]: e["Status"] for e in executions}


def invoke_echo(lam):
    payload = json.dumps({"n": 1, "text": "hi"}, separators=(",", ":"))
    r = lam.invoke(FunctionName="echo", Payload=payload.encode(), DurableExecutionName="echo-1")
    check(r["StatusCode"] == 200, f"RequestResponse invoke: {r}")
    check("FunctionError" not in r, f"RequestResponse invoke: {r}")
    check(json.loads(r["Payload"].read()) == json.loads(payload), "echo payload")
    arn = r.get("DurableExecutionArn", "")
    check("/durable-execution/echo-1/" in arn, f"echo ARN: {arn!r}")
    again = lam.invoke(FunctionName="echo", Payload=payload.encode(), DurableExecutionName="echo-1")
    check(again.get("DurableExecutionArn") == arn, "same name and payload: same execution")
    expect_error(
        "DurableExecutionAlreadyStartedException",
        lam.invoke,
        FunctionName="echo",
        Payload=b'{"n":2}',
        DurableExecutionName="echo-1",
    )


def callback_success(lam):
    arn, callback_id, events = start_desk(lam, "desk-ok")
    check(events[0]["EventType"] == "ExecutionStarted", f"first event: {events[0]}")
    started_input = events[0]["ExecutionStartedDetails"]["Input"]["Payload"]
    check(json.loads(started_input) == {"desk": "desk-ok"}, f"input: {started_input!r}")
    opened = next(e for e in events if e["EventType"] == "CallbackStarted")
    check(opened.get("Name") == "approve", f"callback name: {opened}")
    details = opened["CallbackStartedDetails"]
    check(details.get("Timeout") == 3600, f"callback timeout: {details}")
    check(details.get("HeartbeatTimeout") == 600, f"heartbeat timeout: {details}")

    e = lam.get_durable_execution(DurableExecutionArn=arn)
    check(e["Status"] == "RUNNING", f"status: {e['Status']}")
    check(e["DurableExecutionName"] == "desk-ok", f"name: {e}")
    check("Result" not in e and "EndTimestamp" not in e, f"running execution: {e}")
    check(listed(lam).get(arn) == "RUNNING", "listed as RUNNING")
    check(listed(lam, ["RUNNING"]).get(arn) == "RUNNING", "listed with Statuses=RUNNING")
    check(arn not in listed(lam, ["SUCCEEDED", "FAILED"]), "not listed as finished")

    r = lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 200, f"heartbeat: {r}")
    body = b'{"approved":true,"by":"bob"}'
    r = lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=body)
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 200, f"success: {r}")

    done = wait_for_end(lam, arn)
    check(done["Status"] == "SUCCEEDED", f"status: {done}")
    check(done.get("Result") == body.decode(), f"result: {done.get('Result')!r}")
    check(done["EndTimestamp"] >= done["StartTimestamp"], f"timestamps: {done}")
    expect_error(
        "CallbackTimeoutException",
        lam.send_durable_execution_callback_success,
        CallbackId=callback_id,
        Result=b"{}",
    )

    events = events_of(lam, arn)
    last = events[-1]
    check(last["EventType"] == "ExecutionSucceeded", f"last event: {last}")
    check(
        last["ExecutionSucceededDetails"]["Result"]["Payload"] == body.decode(),
        f"recorded result: {last}",
    )
    invocations = [e for e in events if e["EventType"] == "InvocationCompleted"]
    check(len(invocations) == 2, f"invocations: {invocations}")
    for inv in invocations:
        d = inv["InvocationCompletedDetails"]
        check(d["RequestId"] and d["StartTimestamp"] <= d["EndTimestamp"], f"invocation: {d}")
    steps = [
        e.get("Name")
        for e in events
        if e["EventType"] == "StepSucceeded" and e.get("SubType") == "Transition"
    ]
    check(steps == ["Open", "Waiting"], f"transition steps: {steps}")


def callback_failure(lam):
    arn, callback_id, _ = start_desk(lam, "desk-no")
    r = lam.send_durable_execution_callback_failure(
        CallbackId=callback_id, Error={"ErrorType": "RejectedError", "ErrorMessage": "no"}
    )
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 200, f"failure: {r}")
    done = wait_for_end(lam, arn)
    check(done["Status"] == "SUCCEEDED", f"status: {done}")
    check(done.get("Result") == '"failed:RejectedError"', f"result: {done.get('Result')!r}")


def stop_and_tokens(lam):
    arn, callback_id, _ = start_desk(lam, "desk-stop")
    error = expect_error(
        "InvalidParameterValueException",
        lam.checkpoint_durable_execution,
        DurableExecutionArn=arn,
        CheckpointToken=MADE_UP_TOKEN,
        Updates=[],
    )
    check(error["Message"].startswith("Invalid checkpoint token"), f"checkpoint: {error}")
    error = expect_error(
        "InvalidParameterValueException",
        lam.get_durable_execution_state,
        DurableExecutionArn=arn,
        CheckpointToken=MADE_UP_TOKEN,
    )
    check(error["Message"].startswith("Invalid checkpoint token"), f"state: {error}")

    cancel = {"ErrorType": "Cancelled", "ErrorMessage": "operator cancelled the desk"}
    stopped = lam.stop_durable_execution(DurableExecutionArn=arn, Error=cancel)
    check("StopTimestamp" in stopped, f"stop: {stopped}")
    e = lam.get_durable_execution(DurableExecutionArn=arn)
    check(e["Status"] == "STOPPED", f"status: {e}")
    check(e.get("Error") == cancel, f"error: {e.get('Error')}")
    check(e.get("EndTimestamp") == stopped["StopTimestamp"], f"end: {e}")
    check(listed(lam, ["STOPPED"]).get(arn) == "STOPPED", "listed with Statuses=STOPPED")
    last = events_of(lam, arn)[-1]
    check(last["EventType"] == "ExecutionStopped", f"last event: {last}")
    again = lam.stop_durable_execution(DurableExecutionArn=arn)
    check(again["StopTimestamp"] == stopped["StopTimestamp"], f"stop again: {again}")
    expect_error(
        "CallbackTimeoutException",
        lam.send_durable_execution_callback_heartbeat,
        CallbackId=callback_id,
    )


def unknown_things(lam):
    for call in (lam.get_durable_execution, lam.get_durable_execution_history):
        expect_error("ResourceNotFoundException", call, DurableExecutionArn=UNKNOWN_ARN)
    expect_error(
        "ResourceNotFoundException", lam.stop_durable_execution, DurableExecutionArn=UNKNOWN_ARN
    )
    expect_error(
        "ResourceNotFoundException",
        lam.send_durable_execution_callback_success,
        CallbackId=UNKNOWN_CALLBACK_ID,
        Result=b"{}",
    )
    expect_error(
        "ResourceNotFoundException",
        lam.send_durable_execution_callback_failure,
        CallbackId=UNKNOWN_CALLBACK_ID,
        Error={"ErrorType": "X"},
    )
    expect_error(
        "ResourceNotFoundException",
        lam.send_durable_execution_callback_heartbeat,
        CallbackId=UNKNOWN_CALLBACK_ID,
    )


def main(url):
    lam = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="dummy",
        aws_secret_access_key="dummy",
        # No retries: every error is the server's own first answer.
        config=Config(
            retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60
        ),
    )
    invoke_echo(lam)
    callback_success(lam)
    callback_failure(lam)
    stop_and_tokens(lam)
    unknown_things(lam)
    print(f"boto3: {checks} checks passed")


if __name__ == "__main__":
    if not __debug__:
        sys.exit("boto3_smoke.py: run without -O, its checks are asserts")
    if len(sys.argv) != 2:
        sys.exit("usage: boto3_smoke.py SERVICE_URL")
    main(sys.argv[1])
