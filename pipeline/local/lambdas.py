"""The Lambda service of a local stack: function ARN -> warm workers.

moto's Lambda backend hands every invocation to :class:`LocalLambda` (see
:mod:`pipeline.local.moto_hooks`), which runs it in the function's
:class:`~pipeline.local.invoker.FunctionPool`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pipeline.local.invoker import FunctionPool, InvocationResult
from pipeline.local.moto_hooks import LambdaServiceError


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
        self._failures = dict(transient_failures or {})
        self._lock = threading.Lock()
        self.injected = 0

    def add(self, name: str, pool: FunctionPool) -> None:
        """Registers the workers that run function ``name``."""
        self._pools[pool.spec.arn] = pool
        self._names[pool.spec.arn] = name

    def fail_next(self, name: str, count: int = 1) -> None:
        """Makes the next ``count`` invocations of ``name`` fail as a Lambda outage."""
        with self._lock:
            self._failures[name] = self._failures.get(name, 0) + count

    def _take_failure(self, name: str) -> bool:
        with self._lock:
            if self._failures.get(name, 0) <= 0:
                return False
            self._failures[name] -= 1
            self.injected += 1
            return True

    def invoke(self, function_arn: str, payload: str) -> InvocationResult:
        """Runs one invocation (called from moto's Lambda backend)."""
        # The state machine may name a function by its ARN with or without a qualifier.
        arn = function_arn.removesuffix(":$LATEST")
        pool = self._pools.get(arn)
        if pool is None:
            raise LambdaServiceError(
                "ResourceNotFoundException", f"Function not found: {function_arn}"
            )
        if self._take_failure(self._names[arn]):
            raise LambdaServiceError(
                "ServiceException", "The Lambda service encountered an internal error."
            )
        return pool.invoke(payload)

    def close(self) -> None:
        """Stops every worker."""
        for pool in self._pools.values():
            pool.close()
