"""The gettext catalogues of the reporter pages: current with the sources, complete in every
shipped language, with the source's placeholders and no markup of their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from safevoice.web.i18n import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _messages(catalog: Catalog) -> dict[str, tuple[list[tuple[str, int | None]], set[str]]]:
    return {str(m.id): (sorted(m.locations), set(m.flags) - {"fuzzy"}) for m in catalog if m.id}


def test_extracting_the_texts_again_changes_nothing_in_messages_pot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extracted = tmp_path / "messages.pot"
    # The same command as `make catalogues`, from the same folder (locations are relative).
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(  # type: ignore[no-untyped-call]  # Babel ships no type hints
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "t",
            "--add-location=file",
            "--sort-output",
            "--no-wrap",
            "--project=SafeVoice",
            "-o",
            str(extracted),
            "src/safevoice/web",
        ]
    )
    again = _messages(_read(extracted))
    shipped = _messages(_read(TEMPLATE))
    assert sorted(set(again) - set(shipped)) == [], "run `make catalogues`"
    assert sorted(set(shipped) - set(again)) == [], "run `make catalogues`"
    assert again == shipped
