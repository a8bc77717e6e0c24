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
- A backfill: the Distributed Map keeps ``MaxConcurrency`` Express children in flight,
  each a batch of ``batchSize`` documents run two at a time (the batch's inline
  Map) through the pipeline's states, the next starting as one ends; a batch ends with
  its last document, and the next batch starts then. Few
  documents wait at a time, so this one is modelled document by document, each retry's
  wait drawn as FULL jitter draws it, and each invocation's duration drawn uniformly
  from half to one and a half times the figure above (seeded: repeatable). A child
  costs one state transition (Step Functions bills a Distributed Map one per child
  execution); the states inside an Express child cost none: it is billed $1.00 per
  million executions and $0.00001667 per GB-second of its duration, in 64 MB and 100 ms
  steps (a batch's state is a few KB: 64 MB). A batch still running after Express's
  five minutes would fail (counted as failed documents; none does at these sizes).
- Prices (us-east-1, arm64): state transitions $0.025 per 1,000; Lambda $0.0000133334
  per GB-second and $0.20 per million requests; memory from the stack's defaults.
  EventBridge's delivery of S3 events to Step Functions and the dead-letter queue (empty
  in a normal run) cost nothing here; S3 LIST $0.005 per 1,000 requests.
- Successful path: Ingest, CheckDuplicate, Transform, Compress = 4 transitions.
"""

from __future__ import annotations

import dataclasses
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
SQS_REQUEST_USD = 0.40 / 1_000_000
EXPRESS_REQUEST_USD = 1.00 / 1_000_000
EXPRESS_GB_SECOND_USD = 0.00001667
EXPRESS_MEMORY_GB = 64 / 1024
EXPRESS_MAX_SECONDS = 300


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
    batches: int = 0
    batch_seconds: float = 0.0

    @property
    def drain_over_ideal(self) -> float:
        """Drain time over work / concurrency of the busiest function."""
        return self.drain_seconds / self.ideal_seconds

    def per_10k(self, usd: float) -> float:
        """Dollars per 10,000 documents."""
        return usd * 10_000 / self.documents

    @property
    def orchestration_share(self) -> float:
        """Orchestration cost over Lambda cost (the target: at most a third)."""
        return self.orchestration_usd / self.lambda_usd


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


class _Batches:
    """A backfill of Express batches, document by document: each retry wait is drawn."""

    def __init__(self, concurrency: int, retrier: Retrier, seed: int) -> None:
        self.concurrency = concurrency
        self.retrier = retrier
        self.random = random.Random(seed)  # noqa: S311 - a repeatable model, no secret
        self.busy = dict.fromkeys(STAGES, 0)
        self.events: list[tuple[float, int, str, str, int, int]] = []
        self.sequence = 0
        self.finished: list[float] = []
        self.batch_of: dict[int, int] = {}
        self.left: dict[int, int] = {}
        self.began: dict[int, float] = {}
        self.batch_seconds: list[float] = []
        self.queued: dict[int, list[int]] = {}
        self.side_by_side = 1
        self.late = 0

    def push(self, at: float, kind: str, stage: str, attempt: int, document: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, kind, stage, attempt, document))

    def attempt(self, stage: str, now: float, attempt: int, document: int) -> None:
        if self.busy[stage] < self.concurrency:
            self.busy[stage] += 1
            # Invocations vary: uniformly from half to one and a half times the mean.
            seconds = STAGE_SECONDS[stage] * self.random.uniform(0.5, 1.5)
            self.push(now + seconds, "done", stage, 0, document)
            return
        r = self.retrier
        cap = min(r.interval * r.backoff ** (attempt - 1), r.max_delay)
        self.push(now + self.random.uniform(0, cap), "try", stage, attempt + 1, document)

    def start_batch(self, batch: int, documents: list[int], now: float) -> None:
        self.left[batch] = len(documents)
        self.began[batch] = now
        self.queued[batch] = documents[self.side_by_side :]
        for document in documents:
            self.batch_of[document] = batch
        for document in documents[: self.side_by_side]:
            self.attempt("ingest", now, 1, document)

    def run(self, arrivals: int, children: int, batch_size: int, side_by_side: int) -> None:
        """Runs ``arrivals`` documents in batches of ``batch_size``, ``children`` batches
        at once, each running ``side_by_side`` of its documents at a time."""
        self.side_by_side = side_by_side
        batches = [
            list(range(i, min(i + batch_size, arrivals))) for i in range(0, arrivals, batch_size)
        ]
        pending = list(reversed(list(enumerate(batches))))
        for _ in range(min(children, len(pending))):
            self.start_batch(*pending.pop(), 0.0)
        while self.events:
            now, _, kind, stage, attempt, document = heapq.heappop(self.events)
            if kind == "try":
                self.attempt(stage, now, attempt, document)
                continue
            self.busy[stage] -= 1
            index = STAGES.index(stage)
            if index + 1 < len(STAGES):
                self.attempt(STAGES[index + 1], now, 1, document)
                continue
            self.finished.append(now)
            batch = self.batch_of[document]
            self.left[batch] -= 1
            if self.queued[batch]:
                self.attempt("ingest", now, 1, self.queued[batch].pop(0))
            elif self.left[batch] == 0:
                seconds = now - self.began[batch]
                self.batch_seconds.append(seconds)
                self.late += seconds > EXPRESS_MAX_SECONDS
                if pending:
                    self.start_batch(*pending.pop(), now)

    @property
    def express_usd(self) -> float:
        """The Express children: a request each, and duration in 64 MB, 100 ms steps."""
        billed = sum(math.ceil(s * 10) / 10 for s in self.batch_seconds)
        return len(self.batch_seconds) * EXPRESS_REQUEST_USD + (
            billed * EXPRESS_MEMORY_GB * EXPRESS_GB_SECOND_USD
        )


def model(
    documents: int,
    concurrency: int,
    retrier: Retrier,
    *,
    memory_mb: dict[str, int],
    timeout_seconds: float,
    max_concurrency: int | None = None,
    batch_size: int = 1,
    side_by_side: int = 1,
) -> Outcome:
    """Models a burst of ``documents`` (or a backfill, with ``max_concurrency`` documents
    in flight in Express batches of ``batch_size``, ``side_by_side`` at a time in each)."""
    ideal = max(documents * STAGE_SECONDS[s] / concurrency for s in STAGES)
    if max_concurrency is None:
        state = _Model(concurrency, retrier)
        state.run(documents, None)
        failed = sum(1 for at in state.finished if at > timeout_seconds)
        transitions = state.transitions
        orchestration = transitions * TRANSITION_USD
        finished, peak = state.finished, state.peak_rate
    else:
        batches = _Batches(concurrency, retrier, seed=documents)
        children = math.ceil(max_concurrency / side_by_side)
        batches.run(documents, children, batch_size, side_by_side)
        failed = batches.late * batch_size
        transitions = len(batches.batch_seconds)  # one per child execution
        orchestration = (
            transitions * TRANSITION_USD
            + batches.express_usd
            + math.ceil(documents / 1000) * LIST_REQUEST_USD
        )
        finished, peak = batches.finished, 0.0  # nothing polls: few wait at a time
    return Outcome(
        documents=documents,
        concurrency=concurrency,
        processed=len(finished) - failed,
        failed=failed,
        drain_seconds=max(finished),
        ideal_seconds=ideal,
        transitions=transitions,
        peak_attempts_per_second=peak,
        lambda_usd=lambda_usd(documents, memory_mb),
        orchestration_usd=orchestration,
        batches=len(batches.batch_seconds) if max_concurrency is not None else 0,
        batch_seconds=sum(batches.batch_seconds) if max_concurrency is not None else 0.0,
    )


def through_a_queue(backfill: Outcome) -> Outcome:
    """The same Express batches fed by uploads instead of a listing (``uploads: queued``).

    The trigger rule sends each upload to the uploads queue; the event source mapping,
    its MaximumConcurrency the batches in flight, gives the dispatch function (128 MB) a
    batch of messages, and it runs the batch with StartSyncExecution, waiting for it. A
    burst waits in the queue, so the batches start as a backfill's do (an event source
    mapping starts with five batches at once and adds up to 300 a minute, so it reaches
    these widths within its first minute; ignored). Added to the
    backfill's costs, without its child transitions and listing: the waiting function,
    and SQS's SendMessage per document and one ReceiveMessage and one DeleteMessageBatch
    per batch ($0.40 per million requests).
    """
    waiting = backfill.batch_seconds * (128 / 1024) * GB_SECOND_USD
    sqs = (backfill.documents + 2 * backfill.batches) * SQS_REQUEST_USD
    child_transitions = backfill.batches * TRANSITION_USD
    listing = math.ceil(backfill.documents / 1000) * LIST_REQUEST_USD
    orchestration = (
        backfill.orchestration_usd
        - child_transitions
        - listing
        + waiting
        + backfill.batches * REQUEST_USD
        + sqs
    )
    return dataclasses.replace(backfill, transitions=0.0, orchestration_usd=orchestration)
