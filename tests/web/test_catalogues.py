"""The gettext catalogues of the reporter pages: current with the sources, complete in every
shipped language, with the source's placeholders and no markup of their own."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from safevoice.i18n import LOCALES, TEMPLATE, Catalogue, languages, po_path

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
            "src/safevoice",
        ]
    )
    again = _messages(_read(extracted))
    shipped = _messages(_read(TEMPLATE))
    assert sorted(set(again) - set(shipped)) == [], "run `make catalogues`"
    assert sorted(set(shipped) - set(again)) == [], "run `make catalogues`"
    assert again == shipped


SHIPPED = languages()[1:]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
MARKUP = re.compile(r"<[^>]*>|&#?\w+;")


def _strings(message: Message) -> list[str]:
    return [
        str(s) for s in (message.string if isinstance(message.string, tuple) else [message.string])
    ]


def test_the_shipped_languages_are_the_catalogues_on_disk_each_named_in_itself() -> None:
    on_disk = sorted(p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/messages.po"))
    assert languages() == ("en", *on_disk)
    # The six languages SafeVoice ships at least; a new catalogue adds to them, no list here.
    assert {"ar", "de", "es", "fr", "pl"} <= set(on_disk)
    names = {lang: Catalogue.load(lang).name for lang in languages()}
    assert (
        names.items()
        >= {
            "en": "English",
            "ar": "العربية",
            "de": "Deutsch",
            "es": "Español",
            "fr": "Français",
            "pl": "Polski",
        }.items()
    )
    directions = {lang: Catalogue.load(lang).direction for lang in languages()}
    assert (
        directions.items()
        >= {
            "en": "ltr",
            "ar": "rtl",
            "de": "ltr",
            "es": "ltr",
            "fr": "ltr",
            "pl": "ltr",
        }.items()
    )


def test_a_catalogue_may_name_its_language_and_direction_itself() -> None:
    german = po_path("de").read_bytes()
    plain = Catalogue.from_po("de", german)
    assert (plain.name, plain.direction) == ("Deutsch", "ltr")
    said = b"# Language name: Deutsch (Schweiz)\n# Text direction: rtl\n" + german
    declared = Catalogue.from_po("de", said)
    assert (declared.name, declared.direction) == ("Deutsch (Schweiz)", "rtl")
    assert declared("Report a concern safely") == plain("Report a concern safely")
    for wrong in (b"# Text direction: right\n", b"# Language name:\n"):
        with pytest.raises(ValueError, match="ltr or rtl"):
            Catalogue.from_po("de", wrong + german)


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_message_is_translated_with_the_source_s_placeholders_and_markup(lang: str) -> None:
    template = _read(TEMPLATE)
    catalog = _read(po_path(lang))
    assert "Review state:" in catalog.header_comment
    assert {str(m.id) for m in catalog if m.id} == {str(m.id) for m in template if m.id}
    assert not catalog.obsolete
    for message in catalog:
        if not message.id:
            continue
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else [message.id])]
        assert "fuzzy" not in message.flags, message.id
        for text in _strings(message):
            assert text.strip(), message.id
            assert sorted(set(PLACEHOLDER.findall(text))) == sorted(
                set(PLACEHOLDER.findall(ids[-1]))
            ), message.id
            # No percent sign but the placeholders' (formatting would fail or show them).
            assert "%" not in PLACEHOLDER.sub("", text), message.id
            assert set(MARKUP.findall(text)) <= set(MARKUP.findall(ids[0])), message.id


@pytest.mark.parametrize("lang", SHIPPED)
def test_each_catalogue_s_plural_forms_compile_and_name_a_form_for_every_number(lang: str) -> None:
    catalog = _read(po_path(lang))
    assert (catalog.num_plurals, catalog.plural_expr) == tuple(get_plural(lang))
    plural = gettext.c2py(catalog.plural_expr)
    assert {plural(n) for n in range(1001)} == set(range(catalog.num_plurals))
    for message in catalog:
        if message.pluralizable:
            assert len(_strings(message)) == catalog.num_plurals, message.id


def test_day_counts_take_each_language_s_plural_form() -> None:
    # One day is not "1 days" (nor the Polish "1 dni"); Arabic counts 3-10 and 11-99 apart.
    assert [Catalogue.load("en").days(n) for n in (1, 60)] == ["1 day", "60 days"]
    assert [Catalogue.load("pl").days(n) for n in (1, 3, 60)] == ["1 dzień", "3 dni", "60 dni"]
    assert [Catalogue.load("de").days(n) for n in (1, 60)] == ["1 Tag", "60 Tage"]
    assert Catalogue.load("ar").days(7) == "7 أيام"
    assert Catalogue.load("ar").days(60) == "60 يومًا"
    assert Catalogue.load("fr").retention(1, 1095) == (
        "Votre signalement et la conversation sont supprimés 1 jour après la clôture du "
        "dossier, et au plus tard 1095 jours après sa réception."
    )
