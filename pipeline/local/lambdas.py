"""The Lambda service of a local stack: function ARN -> warm workers.

moto's Lambda backend hands every invocation to :class:`LocalLambda` (see
:mod:`pipeline.local.moto_hooks`), which runs it in the function's
:class:`~pipeline.local.invoker.FunctionPool`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from enum import Enum

from pipeline.local.invoker import FunctionPool, InvocationResult
from pipeline.local.moto_hooks import LambdaServiceError


class Fault(Enum):
    """A failure injected into an invocation (for tests and drills).

    ``SERVICE``: the Lambda service fails before the function runs
    (``Lambda.ServiceException``), which the state machine retries. ``CRASH``: the
    function's environment dies mid-invocation (``Runtime.ExitError``, as when the host
    kills it), which the state machine does not retry, so the document fails.
    """

    SERVICE = "service"
    CRASH = "crash"


class LocalLambda:
    """Routes invocations to the workers of each function.

    Args:
        transient_failures: For tests of the state machine's Retry: function name ->
            how many of its first invocations fail with ``Lambda.ServiceException`` (a
            failure of the Lambda service, before the function runs), as AWS does now
            and then.
    """

    def __init__(self, transient_failures: Mapping[str, int] | None = None) -> None:
        self._pools: dict[str, FunctionPool] = {}
        self._names: dict[str, str] = {}
        self._faults: dict[str, list[Fault]] = {
            name: [Fault.SERVICE] * count for name, count in (transient_failures or {}).items()
        }
        self._lock = threading.Lock()
        self.injected = 0

    def add(self, name: str, pool: FunctionPool) -> None:
        """Registers the workers that run function ``name``."""
        self._pools[pool.spec.arn] = pool
        self._names[pool.spec.arn] = name

    def fail_next(self, name: str, count: int = 1, fault: Fault = Fault.SERVICE) -> None:
        """Makes the next ``count`` invocations of function ``name`` fail with ``fault``."""
        with self._lock:
            self._faults.setdefault(name, []).extend([fault] * count)

    def _take_fault(self, name: str) -> Fault | None:
        with self._lock:
            pending = self._faults.get(name)
            if not pending:
                return None
            self.injected += 1
            return pending.pop(0)

    def invoke(self, function_arn: str, payload: str) -> InvocationResult:
        """Runs one invocation (called from moto's Lambda backend)."""
        # The state machine may name a function by its ARN with or without a qualifier.
        arn = function_arn.removesuffix(":$LATEST")
        pool = self._pools.get(arn)
        if pool is None:
            raise LambdaServiceError(
                "ResourceNotFoundException", f"Function not found: {function_arn}"
            )
        fault = self._take_fault(self._names[arn])
        if fault is Fault.SERVICE:
            raise LambdaServiceError(
                "ServiceException", "The Lambda service encountered an internal error."
            )
        if fault is Fault.CRASH:
            return _crashed()
        return pool.invoke(payload)

    def close(self) -> None:
        """Stops every worker."""
        for pool in self._pools.values():
            pool.close()


def _crashed() -> InvocationResult:
    request_id = str(uuid.uuid4())
    body = {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        "requestId": request_id,
        "stackTrace": [],
    }
    return InvocationResult(payload=json.dumps(body), function_error="Unhandled")
