"""The local runner: the deployed pipeline on one machine, with moto and local workers.

- :mod:`pipeline.local.runner` sets up moto's S3, Lambda and Step Functions as
  ``pulumi up`` would, starts executions and collects the results (:func:`run`).
- :mod:`pipeline.local.invoker` runs Lambda invocations in warm worker processes.
- :mod:`pipeline.local.worker` is the worker process itself (standard library only).
- :mod:`pipeline.local.moto_hooks` is the one place that touches moto's internals.
"""
