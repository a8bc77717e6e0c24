"""The local stack: the deployed pipeline on one machine, with moto and local workers.

- :mod:`pipeline.local.stack`: :class:`~pipeline.local.stack.LocalStack`, what ``pulumi
  up`` creates, kept up in a moto server on 127.0.0.1 (``serve``, ``run`` and the tests
  use it).
- :mod:`pipeline.local.deploy`: creates the buckets, functions and state machine in moto.
- :mod:`pipeline.local.events`: the trigger rule (new object -> execution input).
- :mod:`pipeline.local.queued`, :mod:`pipeline.local.event_source`: ``uploads: queued``
  (the uploads queue, its state machine and dispatch function; the event source mapping).
- :mod:`pipeline.local.lambdas`, :mod:`pipeline.local.invoker`: Lambda invocations in
  warm worker processes (:mod:`pipeline.local.worker`, standard library only).
- :mod:`pipeline.local.moto_hooks`: the one place that touches moto's internals.
- :mod:`pipeline.local.inputs`, :mod:`pipeline.local.execution`,
  :mod:`pipeline.local.results`, :mod:`pipeline.local.runner`: ``python -m pipeline
  run`` (files in, executions followed, summary out).
"""
