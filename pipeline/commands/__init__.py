"""The commands of ``python -m pipeline`` (the parser is :mod:`pipeline.cli`).

- :mod:`.run`: ``run``, a one-off local stack over files (:mod:`pipeline.local.runner`).
- :mod:`.serve`: ``serve``, a local stack kept up until Ctrl-C.
- :mod:`.target`: which stack the operator commands talk to (deployed or ``serve``).
- :mod:`.submit`, :mod:`.inspect`, :mod:`.retry`: ``submit``; ``status``, ``failures``
  and ``outputs``; ``retry``. They read the status per key (``functions.status``).
- :mod:`.console`: exit codes, errors, progress and JSON, shared by all of them.
"""
