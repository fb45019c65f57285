"""The translation catalogue: every string the reporter pages show, in one file per language.

Templates call ``t("key", name=value)``; the page's JavaScript receives the ``js.`` entries as a
JSON block and looks them up the same way. A new language is a new ``<lang>.json`` beside
``en.json`` with the same keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

CATALOGUES = Path(__file__).parent
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Catalogue:
    lang: str
    strings: dict[str, str]

    @classmethod
    def load(cls, lang: str = "en") -> Catalogue:
        strings = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
        return cls(lang=lang, strings=strings)

    def __call__(self, key: str, **values: object) -> str:
        """The string for ``key`` with its ``{name}`` placeholders filled; a missing key is a
        programming error and raises KeyError."""
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), self.strings[key])

    def script_strings(self) -> dict[str, str]:
        return {k: v for k, v in self.strings.items() if k.startswith("js.")}
