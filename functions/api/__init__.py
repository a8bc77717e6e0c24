"""The HTTP API for documents: POST, GET, DELETE and retry on API Gateway (payload 2.0).

``handler.py`` is the Lambda entry point; it parses the event (``http.py``), routes it
(``routes.py``) to pure core functions (``uploads.py``, ``reads.py``, ``changes.py``) that
take typed requests and the boto3 clients they use, and turns what they return or raise
(``errors.py``) into a response. See docs/ARCHITECTURE.md, "HTTP API".
"""
