"""docpipe's operator side: the Pulumi components, the packaging and the local runner.

Modules that only describe the pipeline (the state machine definition, the trigger's
input mapping, the packaging) import neither pulumi nor AWS clients, so the local runner
and the tests use exactly what `pulumi up` deploys.
"""

__version__ = "0.1.0"  # pyproject.toml's version (tests/pipeline/test_cli.py checks it)
