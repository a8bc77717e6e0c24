"""How a status reads for a person: one line per key."""

from __future__ import annotations

from functions.status import KeyStatus


def status_line(key: str, status: KeyStatus | None) -> str:
    """Returns one line: the state, the key and what matters for that state."""
    if status is None:
        return f"  unknown     {key}  (no status: never uploaded, or not seen yet)"
    if status.state == "succeeded":
        pages = "1 page" if status.pages == 1 else f"{status.pages} pages"
        ratio = f", ratio {status.ratio:.2f}" if status.ratio is not None else ""
        return f"  succeeded   {key}  ({pages}{ratio}) {status.manifest or ''}".rstrip()
    if status.state == "failed":
        error = status.error
        what = f"{error.code}: {error.message}" if error else "no error recorded"
        return f"  failed      {key}  {what} (stage {status.stage}; report {status.report})"
    stage = f"stage {status.stage}, " if status.stage else ""
    return f"  {status.state:<11} {key}  ({stage}execution {status.execution})"
