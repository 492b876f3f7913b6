"""Schemathesis hooks for scripts/fuzz-api: how to send the media types of rp-server that
schemathesis has no serializer for.

`application/x-ndjson` (the passkey import): the generated value is the body's text (its
schema is a string), sent as UTF-8, or anything else as JSON lines of its items.
"""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list):
        return "".join(json.dumps(v) + "\n" for v in value).encode()
    return (json.dumps(value) + "\n").encode()
