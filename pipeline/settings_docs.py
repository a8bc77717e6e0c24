"""Writes ``Pulumi.yaml``'s ``config:`` block and the README's configuration table.

Both are derived from the declarations on :class:`pipeline.settings.Settings`; after
adding or changing a setting there, run ``python -m pipeline.settings_docs`` and commit
what it changed. ``tests/pipeline/test_config.py`` fails, naming the key, when either
file differs from the declarations.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pipeline.declarations import Declaration, declarations

ROOT = Path(__file__).resolve().parent.parent
PULUMI_YAML = ROOT / "Pulumi.yaml"
README = ROOT / "README.md"
CONFIG_LINE = "config:\n"
TABLE_HEADER = "| Key | Type | Default | Values | Meaning |\n| --- | --- | --- | --- | --- |\n"


def pulumi_declaration(declared: Declaration) -> dict[str, Any]:
    """Returns the key's entry in ``Pulumi.yaml``'s ``config:`` block, as YAML loads it."""
    entry: dict[str, Any] = {"type": declared.type}
    if declared.type == "array":
        entry["items"] = {"type": "string"}
    entry["default"] = declared.default
    description = declared.description.replace("`", "")
    if declared.bounds is not None:
        description += f" Values: {declared.bounds.text.replace('`', '')}."
    entry["description"] = description
    return entry


def _yaml_scalar(value: Any) -> str:
    # JSON's scalars are YAML scalars; strings stay quoted so "3.12" remains a string.
    return json.dumps(value, ensure_ascii=False)


def pulumi_config_block() -> str:
    """Returns the ``config:`` block of ``Pulumi.yaml``, from its first line to the end."""
    lines = [CONFIG_LINE]
    for declared in declarations():
        entry = pulumi_declaration(declared)
        lines.append(f"  {declared.key}:\n    type: {entry['type']}\n")
        if "items" in entry:
            lines.append("    items:\n      type: string\n")
        lines.append(f"    default: {_yaml_scalar(entry['default'])}\n")
        lines.append(f"    description: {_yaml_scalar(entry['description'])}\n")
    return "".join(lines)


def _markdown_default(declared: Declaration) -> str:
    return f"`{json.dumps(declared.default) if declared.default in ('', []) else declared.default}`"


def readme_row(declared: Declaration) -> str:
    """Returns the key's row in the README's configuration table."""
    kind = "array of strings" if declared.type == "array" else declared.type
    values = declared.bounds.text if declared.bounds is not None else ""
    if declared.type == "boolean":
        values = "`true`, `false`"
    if isinstance(declared.default, bool):
        default = f"`{str(declared.default).lower()}`"
    else:
        default = _markdown_default(declared)
    return f"| `{declared.key}` | {kind} | {default} | {values} | {declared.description} |\n"


def readme_table() -> str:
    """Returns the README's configuration table, header included."""
    return TABLE_HEADER + "".join(readme_row(d) for d in declarations())


def _replace_table(text: str) -> str:
    start = text.index(TABLE_HEADER)
    end = text.index("\n\n", start) + 1
    return text[:start] + readme_table() + text[end:]


def _replace_config(text: str) -> str:
    return text[: text.index("\n" + CONFIG_LINE) + 1] + pulumi_config_block()


def main(argv: list[str]) -> int:
    """Rewrites both files (or with ``--check``, reports which differ and returns 1)."""
    changed = []
    for path, rewrite in ((PULUMI_YAML, _replace_config), (README, _replace_table)):
        text = path.read_text(encoding="utf-8")
        wanted = rewrite(text)
        if wanted != text:
            changed.append(path.name)
            if "--check" not in argv:
                path.write_text(wanted, encoding="utf-8")
    if changed and "--check" in argv:
        sys.stderr.write(f"out of date: {', '.join(changed)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
