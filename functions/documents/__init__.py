"""Document code: pure functions from paths and bytes to documents, no AWS."""
