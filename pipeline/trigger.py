"""How an S3 "Object Created" event becomes an execution input (docs/ARCHITECTURE.md,
"Execution input").

The Pulumi program deploys :func:`event_pattern` and :data:`INPUT_PATHS` /
:data:`INPUT_TEMPLATE` as the EventBridge rule and its input transformer. moto's
EventBridge does not deliver to Step Functions, so the local runner applies the same
transformer with :func:`apply_input_transformer`, following EventBridge's rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

INPUT_PATHS: dict[str, str] = {
    "bucket": "$.detail.bucket.name",
    "key": "$.detail.object.key",
    "versionId": "$.detail.object.version-id",
    "etag": "$.detail.object.etag",
    "size": "$.detail.object.size",
    # Orders two events of one key (the greater, right-padded with zeros, is the later).
    "sequencer": "$.detail.object.sequencer",
}

# Placeholders outside quotes take the JSON value as it is (strings keep their quotes,
# numbers stay numbers), which is what the execution input contract wants.
INPUT_TEMPLATE = (
    '{"bucket": <bucket>, "key": <key>, "versionId": <versionId>, "etag": <etag>, '
    '"size": <size>, "sequencer": <sequencer>}'
)


def event_pattern(bucket_name: Any, key_prefix: str = "") -> dict[str, Any]:
    """Returns the EventBridge pattern matching new objects in the trigger bucket.

    Args:
        bucket_name: The trigger bucket's name (a string or a pulumi Output).
        key_prefix: Only keys starting with this prefix start executions ("" for all).
    """
    detail: dict[str, Any] = {"bucket": {"name": [bucket_name]}}
    if key_prefix:
        detail["object"] = {"key": [{"prefix": key_prefix}]}
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}


def _lookup(event: Mapping[str, Any], path: str) -> Any:
    node: Any = event
    for part in path.removeprefix("$.").split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


_PLACEHOLDER = re.compile(r'"<(\w+)>"|<(\w+)>')


def apply_input_transformer(
    event: Mapping[str, Any],
    paths: Mapping[str, str] = INPUT_PATHS,
    template: str = INPUT_TEMPLATE,
) -> dict[str, Any]:
    """Applies an EventBridge input transformer to ``event`` and returns the result.

    A path that is missing from the event yields ``null``; a placeholder inside quotes
    takes the value's text without JSON quoting, one outside quotes its JSON form.
    """
    values = {name: _lookup(event, path) for name, path in paths.items()}

    def substitute(match: re.Match[str]) -> str:
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            value = values.get(quoted)
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)
        return json.dumps(values.get(bare))

    result = json.loads(_PLACEHOLDER.sub(substitute, template))
    if not isinstance(result, dict):
        raise ValueError("the input template must produce a JSON object")
    return result


def object_created_event(
    bucket: str,
    key: str,
    *,
    size: int,
    etag: str,
    version_id: str | None,
    account: str = "123456789012",
    region: str = "us-east-1",
    time: str = "1970-01-01T00:00:00Z",
) -> dict[str, Any]:
    """Returns an S3 "Object Created" event shaped as EventBridge delivers it."""
    obj: dict[str, Any] = {"key": key, "size": size, "etag": etag, "sequencer": "0"}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": time,
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "0",
            "requester": account,
            "reason": "PutObject",
        },
    }
