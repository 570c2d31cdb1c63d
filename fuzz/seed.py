"""Builds the seed corpora of the fuzz targets from the captured wire samples."""
import glob, json, os, hashlib, sys

samples = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/spec/wire-samples")
out = os.path.join(os.path.dirname(__file__), "corpus")

def exchanges():
    for f in sorted(glob.glob(os.path.join(samples, "*", "*.json"))):
        doc = json.load(open(f))
        yield from (doc.get("examples") or {"": doc}).values()

def put(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as fh:
        fh.write(data)

for ex in exchanges():
    req = ex["request"]
    body = req.get("body") or ""
    if ex["operation"] == "Invoke" and "CheckpointToken" in body:
        put("invocation_event", body.encode())
    if ex["operation"] == "CheckpointDurableExecution":
        put("checkpoint_request", body.encode())
        put("checkpoint_request", body.encode() + b" ")  # the other token mode
    method = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}.get(req["method"], 0)
    put("server_request", bytes([method]) + req["path"].encode() + b"\n" + body.encode())
