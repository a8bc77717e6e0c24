"""docpipe's Lambda code: the three stages and the document code they run.

This package is the whole function archive. It never imports pulumi; Pillow, pypdf and
pikepdf are imported inside the functions that use them so that cold starts stay short.
"""
