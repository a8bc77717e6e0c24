"""A paper model of the deployed definition under a burst or a backfill.

Assumptions (README, "Bursts and backfill", repeats them beside the results):

- Three functions, each with ``C`` reserved concurrent executions; every invocation of
  ingest, transform and compress takes ``STAGE_SECONDS`` (the figures the burst
  measurements were made with: transform 2 s, compress 0.5 s; ingest 0.5 s assumed).
  Lambda refuses an invocation at once when its function runs ``C`` (429, no charge).
- A refused attempt waits as the deployed throttling retrier says (read from the real
  definition dict): ``IntervalSeconds x BackoffRate^(n-1)``, capped at
  ``MaxDelaySeconds``, with FULL jitter (uniformly 0..that). The model is a fluid one:
  the documents waiting at a function retry together at ``waiting / mean wait`` attempts
  per second (mean wait = MaxDelaySeconds / 2 once the backoff reached the cap), and a
  freed slot is taken after the expected gap to the next attempt. Each throttled entry
  first spends the ramp's attempts (``ceil(log_B(MaxDelay / Interval))``). Every attempt,
  failed or not, is a state transition; a failed one costs no Lambda time.
- A burst: every document's execution starts at t = 0 (EventBridge starts them as
  fast as Step Functions admits; ~300/s in large regions, which the model ignores). A
  document still unfinished at the execution's TimeoutSeconds counts as failed.
- A backfill: the Distributed Map keeps ``MaxConcurrency`` documents in flight; each
  runs the same pipeline (one more transition: the map child's StartExecution task).
  Few documents wait at a time, so this one is modelled document by document, each
  retry's wait drawn as FULL jitter draws it, and each invocation's duration drawn
  uniformly from half to one and a half times the figure above (seeded: repeatable).
- Prices (us-east-1, arm64): state transitions $0.025 per 1,000; Lambda $0.0000133334
  per GB-second and $0.20 per million requests; memory from the stack's defaults.
  EventBridge's delivery of S3 events to Step Functions and the dead-letter queue (empty
  in a normal run) cost nothing here; S3 LIST $0.005 per 1,000 requests.
- Successful path: Ingest, CheckDuplicate, Transform, Compress = 4 transitions.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from typing import Any

STAGES = ("ingest", "transform", "compress")
STAGE_SECONDS = {"ingest": 0.5, "transform": 2.0, "compress": 0.5}
TRANSITION_USD = 0.025 / 1000
GB_SECOND_USD = 0.0000133334
REQUEST_USD = 0.20 / 1_000_000
LIST_REQUEST_USD = 0.005 / 1000
SUCCESS_TRANSITIONS = 4
BACKFILL_EXTRA_TRANSITIONS = 1


@dataclass(frozen=True)
class Retrier:
    """The throttling retrier's parameters, as the definition states them."""

    interval: float
    backoff: float
    max_delay: float
    max_attempts: int

    @classmethod
    def of(cls, retrier: dict[str, Any]) -> Retrier:
        """Reads a Retry entry of the definition."""
        return cls(
            interval=float(retrier["IntervalSeconds"]),
            backoff=float(retrier["BackoffRate"]),
            max_delay=float(retrier["MaxDelaySeconds"]),
            max_attempts=int(retrier["MaxAttempts"]),
        )

    @property
    def ramp_attempts(self) -> int:
        """Attempts a throttled document makes before its waits reach the cap."""
        if self.backoff <= 1 or self.interval >= self.max_delay:
            return 1
        return math.ceil(math.log(self.max_delay / self.interval, self.backoff))

    @property
    def mean_wait(self) -> float:
        """The mean wait between attempts at the cap (FULL jitter: half the cap)."""
        return self.max_delay / 2


@dataclass(frozen=True)
class Outcome:
    """One modelled run."""

    documents: int
    concurrency: int
    processed: int
    failed: int
    drain_seconds: float
    ideal_seconds: float
    transitions: float
    peak_attempts_per_second: float
    lambda_usd: float
    orchestration_usd: float

    @property
    def drain_over_ideal(self) -> float:
        """Drain time over work / concurrency of the busiest function."""
        return self.drain_seconds / self.ideal_seconds

    def per_10k(self, usd: float) -> float:
        """Dollars per 10,000 documents."""
        return usd * 10_000 / self.documents

    @property
    def overhead_usd(self) -> float:
        """Orchestration beyond the uncontended path (4 transitions a document)."""
        return self.orchestration_usd - self.documents * SUCCESS_TRANSITIONS * TRANSITION_USD


def lambda_usd(documents: int, memory_mb: dict[str, int]) -> float:
    """Lambda compute and requests for ``documents`` processed once."""
    gb_seconds = sum(STAGE_SECONDS[s] * memory_mb[s] / 1024 for s in STAGES)
    return documents * (gb_seconds * GB_SECOND_USD + len(STAGES) * REQUEST_USD)


class _Model:
    def __init__(self, concurrency: int, retrier: Retrier) -> None:
        self.concurrency = concurrency
        self.retrier = retrier
        self.busy = dict.fromkeys(STAGES, 0)
        self.waiting = dict.fromkeys(STAGES, 0)
        self.since = dict.fromkeys(STAGES, 0.0)
        self.events: list[tuple[float, int, str, str]] = []
        self.sequence = 0
        self.transitions = 0.0
        self.finished: list[float] = []
        self.peak_rate = 0.0

    def push(self, at: float, kind: str, stage: str) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, kind, stage))

    def account(self, stage: str, now: float) -> None:
        """Counts the failed attempts of the documents waiting at ``stage`` until now."""
        rate = self.waiting[stage] / self.retrier.mean_wait
        self.transitions += rate * (now - self.since[stage])
        self.peak_rate = max(self.peak_rate, rate)
        self.since[stage] = now

    def take(self, stage: str, now: float) -> None:
        self.busy[stage] += 1
        self.transitions += 1
        self.push(now + STAGE_SECONDS[stage], "done", stage)

    def arrive(self, stage: str, now: float) -> None:
        if self.busy[stage] < self.concurrency:
            self.take(stage, now)
            return
        self.account(stage, now)
        self.waiting[stage] += 1
        self.transitions += self.retrier.ramp_attempts

    def run(self, arrivals: int, in_flight: int | None) -> None:
        started = arrivals if in_flight is None else min(in_flight, arrivals)
        for _ in range(started):
            self.arrive("ingest", 0.0)
        pending = arrivals - started
        while self.events:
            now, _, kind, stage = heapq.heappop(self.events)
            if kind == "claim":
                self.account(stage, now)
                if self.waiting[stage] and self.busy[stage] < self.concurrency:
                    self.waiting[stage] -= 1
                    self.transitions -= 1  # this attempt succeeded: counted by take()
                    self.take(stage, now)
                continue
            self.busy[stage] -= 1
            index = STAGES.index(stage)
            if index + 1 < len(STAGES):
                self.arrive(STAGES[index + 1], now)
            else:
                self.transitions += 1  # CheckDuplicate
                self.finished.append(now)
                if pending:
                    pending -= 1
                    self.arrive("ingest", now)
            if self.waiting[stage]:
                gap = self.retrier.mean_wait / self.waiting[stage]
                self.push(now + gap, "claim", stage)


class _Exact:
    """A backfill, document by document: few wait at a time, so each retry is drawn."""

    def __init__(self, concurrency: int, retrier: Retrier, seed: int) -> None:
        self.concurrency = concurrency
        self.retrier = retrier
        self.random = random.Random(seed)  # noqa: S311 - a repeatable model, no secret
        self.busy = dict.fromkeys(STAGES, 0)
        self.events: list[tuple[float, int, str, str, int]] = []
        self.sequence = 0
        self.transitions = 0.0
        self.finished: list[float] = []
        self.peak_rate = 0.0

    def push(self, at: float, kind: str, stage: str, attempt: int = 0) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, kind, stage, attempt))

    def attempt(self, stage: str, now: float, attempt: int) -> None:
        self.transitions += 1
        if self.busy[stage] < self.concurrency:
            self.busy[stage] += 1
            # Invocations vary: uniformly from half to one and a half times the mean.
            seconds = STAGE_SECONDS[stage] * self.random.uniform(0.5, 1.5)
            self.push(now + seconds, "done", stage)
            return
        r = self.retrier
        cap = min(r.interval * r.backoff ** (attempt - 1), r.max_delay)
        self.push(now + self.random.uniform(0, cap), "try", stage, attempt + 1)

    def run(self, arrivals: int, in_flight: int) -> None:
        started = min(in_flight, arrivals)
        for _ in range(started):
            self.attempt("ingest", 0.0, 1)
        pending = arrivals - started
        while self.events:
            now, _, kind, stage, attempt = heapq.heappop(self.events)
            if kind == "try":
                self.attempt(stage, now, attempt)
                continue
            self.busy[stage] -= 1
            index = STAGES.index(stage)
            if index + 1 < len(STAGES):
                self.attempt(STAGES[index + 1], now, 1)
                continue
            self.transitions += 1  # CheckDuplicate
            self.finished.append(now)
            if pending:
                pending -= 1
                self.attempt("ingest", now, 1)


def model(
    documents: int,
    concurrency: int,
    retrier: Retrier,
    *,
    memory_mb: dict[str, int],
    timeout_seconds: float,
    max_concurrency: int | None = None,
) -> Outcome:
    """Models a burst of ``documents`` (or a backfill, with ``max_concurrency``)."""
    state: _Model | _Exact
    if max_concurrency is None:
        state = _Model(concurrency, retrier)
        state.run(documents, None)
    else:
        state = _Exact(concurrency, retrier, seed=documents)
        state.run(documents, max_concurrency)
    failed = sum(1 for at in state.finished if at > timeout_seconds)
    transitions = state.transitions
    orchestration = transitions * TRANSITION_USD
    if max_concurrency is not None:
        transitions += documents * BACKFILL_EXTRA_TRANSITIONS
        orchestration = transitions * TRANSITION_USD + math.ceil(documents / 1000) * (
            LIST_REQUEST_USD
        )
    ideal = max(documents * STAGE_SECONDS[s] / concurrency for s in STAGES)
    return Outcome(
        documents=documents,
        concurrency=concurrency,
        processed=len(state.finished) - failed,
        failed=failed,
        drain_seconds=max(state.finished),
        ideal_seconds=ideal,
        transitions=transitions,
        peak_attempts_per_second=state.peak_rate,
        lambda_usd=lambda_usd(documents, memory_mb),
        orchestration_usd=orchestration,
    )
