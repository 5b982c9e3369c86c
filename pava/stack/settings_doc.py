"""The settings table of the README, generated from the settings models' fields and descriptions.

``python -m pava.stack.settings_doc`` prints it; with ``--write README.md`` it replaces the table between
the README's settings markers. ``tests/test_settings.py`` checks that the README names every variable, so a
new setting cannot go undocumented.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from core.settings import PROJECT_ROOT, Settings
from pava.stack.config import StackSettings


@dataclass(frozen=True)
class SettingRow:
    variable: str
    default: str
    description: str


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "(required)"
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    text = str(value)
    # Paths under the checkout are shown relative to it: the table must not name one machine's folders.
    root = str(PROJECT_ROOT)
    if text.startswith(root):
        text = text[len(root) + 1:] or "."
    return json.dumps(value) if isinstance(value, list) else text


def _rows(model: type[BaseModel], prefix: str) -> list[SettingRow]:
    rows: list[SettingRow] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            group_doc = (annotation.__doc__ or "").strip().splitlines()[0] if annotation.__doc__ else ""
            rows.append(SettingRow(f"{prefix}{name.upper()}__*", "", group_doc))
            rows += _rows(annotation, f"{prefix}{name.upper()}__")
            continue
        rows.append(SettingRow(f"{prefix}{name.upper()}", _default(info), info.description or ""))
    return rows


def settings_rows() -> list[SettingRow]:
    """Every environment variable pava reads, in model order (groups expanded)."""
    stack_doc = (StackSettings.__doc__ or "").strip().splitlines()[0]
    return [*_rows(Settings, "PAVA_"), SettingRow("PAVA_STACK__*", "", stack_doc),
            *_rows(StackSettings, "PAVA_STACK__")]


def variables() -> list[str]:
    """The variable names alone (group headers left out)."""
    return [row.variable for row in settings_rows() if not row.variable.endswith("*")]


def markdown() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for row in settings_rows():
        default = f"`{row.default}`" if row.default else ""
        description = row.description.replace("|", "\\|")
        if row.variable.endswith("*"):
            lines.append(f"| **`{row.variable}`** | | *{description}* |")
        else:
            lines.append(f"| `{row.variable}` | {default} | {description} |")
    return "\n".join(lines)


START = "<!-- settings:start (python -m pava.stack.settings_doc --write README.md) -->"
END = "<!-- settings:end -->"


def write(readme: Path) -> None:
    """Replace the table between START and END in ``readme``."""
    text = readme.read_text()
    head, found, rest = text.partition(START)
    if not found or END not in rest:
        raise SystemExit(f"{readme} has no settings markers ({START} ... {END})")
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{START}\n{markdown()}\n{END}{tail}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        write(Path(sys.argv[2]))
    else:
        print(markdown())
