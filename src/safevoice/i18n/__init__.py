"""The reporter's languages: gettext catalogues (Babel), one per language, English the source.

The message ids are the English texts themselves: templates call ``_("text %(name)s",
name=value)``, Python calls a :class:`Catalogue` the same way (``N_`` only marks a text that is
translated later), and the pages' JavaScript calls ``t("text", {name: value})`` with the
translations it needs sent in the page as a JSON block. ``pybabel extract`` (``make
catalogues``, see docs/translating.md) collects them all into ``messages.pot``.

The languages offered are the catalogues on disk: ``locale/<lang>/LC_MESSAGES/messages.po``
beside this file, compiled to ``messages.mo`` by the project's set-up. Adding a language is
adding its ``.po`` file; no Python changes. English, the source, needs no catalogue. A
language is named in itself and written in its direction as Babel's locale data (CLDR) says,
unless its catalogue's first comment lines say otherwise (``# Language name: …``,
``# Text direction: rtl``).
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

HERE = Path(__file__).parent
LOCALES = HERE / "locale"
TEMPLATE = HERE / "messages.pot"
DOMAIN = "messages"
SOURCE = "en"
# Where the pages' scripts live, as ``messages.pot`` names them in its locations.
SCRIPT_PREFIX = "src/safevoice/web/assets/"


def N_(text: str) -> str:  # noqa: N802 - the usual gettext name for "mark, translate later"
    """Marks ``text`` for the catalogue without translating it (it is translated when shown)."""
    return text


RETENTION = N_(
    "Your report and the conversation are deleted %(after)s after the case is closed, and at "
    "the latest %(max)s after it was received."
)


# The words for a case's status and outcome, as the JavaScript page says them.
STATUS_WORDS = {
    "received": N_("Received"),
    "acknowledged": N_("Acknowledged"),
    "investigating": N_("Being investigated"),
    "action_planned": N_("Corrective action planned"),
    "closed": N_("Closed"),
}
OUTCOME_WORDS = {
    "substantiated": N_("substantiated"),
    "not_substantiated": N_("not substantiated"),
    "out_of_scope": N_("out of scope"),
    "no_action_needed": N_("no action needed"),
}


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


DECLARED = re.compile(r"^#\s*(Language name|Text direction):[ \t]*(.*?)\s*$", re.MULTILINE)
DIRECTIONS = ("ltr", "rtl")


def declared(po: bytes) -> dict[str, str]:
    """What a catalogue's first comment lines say of its language, overriding the locale
    data: ``{"language name": "…", "text direction": "rtl"}`` (either may be absent)."""
    head = po.split(b"\nmsgid ", 1)[0].decode("utf-8")
    found = {key.lower(): value for key, value in DECLARED.findall(head)}
    if found.get("text direction", "ltr") not in DIRECTIONS or found.get("language name") == "":
        raise ValueError(
            "A catalogue's '# Text direction:' is ltr or rtl, and its '# Language name:' is "
            "not empty."
        )
    return found


@cache
def languages() -> tuple[str, ...]:
    """Every language shipped: English first, then each catalogue on disk, by code."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(lang for lang in found if lang != SOURCE))


@cache
def script_messages() -> frozenset[str]:
    """The messages the pages' scripts use (so that only those are sent to a page)."""
    with TEMPLATE.open("rb") as f:
        template = read_po(f)
    return frozenset(
        str(m.id)
        for m in template
        if m.id and any(path.startswith(SCRIPT_PREFIX) for path, _ in m.locations)
    )


def _translations(lang: str) -> gettext.NullTranslations:
    if lang == SOURCE:
        return gettext.NullTranslations()
    po = po_path(lang)
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as f:
            return Translations(f, domain=DOMAIN)
    # Not compiled yet (or edited since): compile in memory, as `make catalogues` would.
    return compile_po(lang, po.read_bytes())


def compile_po(lang: str, po: bytes) -> Translations:
    """A ``.po`` catalogue's bytes compiled in memory (the release bundle holds them so)."""
    catalog = read_po(io.BytesIO(po), locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True)
class Catalogue:
    """One language's texts: ``catalogue("text %(n)s", n=1)`` is the text translated, filled."""

    lang: str
    translations: gettext.NullTranslations = field(repr=False)
    # What the catalogue's first comment lines say of its language (see ``declared``).
    declares: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, lang: str = SOURCE) -> Catalogue:
        return _load(lang)

    @classmethod
    def from_po(cls, lang: str, po: bytes) -> Catalogue:
        """The catalogue of ``lang`` from a ``.po`` file's bytes (as the release bundle holds)."""
        return cls(lang=lang, translations=compile_po(lang, po), declares=declared(po))

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    @property
    def name(self) -> str:
        """The language named in itself (Deutsch, Français, العربية)."""
        if "language name" in self.declares:
            return self.declares["language name"]
        name = self.locale.get_display_name(self.lang) or self.lang
        return name[:1].upper() + name[1:]

    @property
    def direction(self) -> str:
        """``rtl`` or ``ltr``, as the catalogue declares it, else as the locale data says."""
        if "text direction" in self.declares:
            return self.declares["text direction"]
        return "rtl" if self.locale.character_order == "right-to-left" else "ltr"

    def __call__(self, message: str, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def plural(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def days(self, n: int) -> str:
        """A number of days, in the language's plural form for that number."""
        return self.translations.ngettext("%(num)s day", "%(num)s days", n) % {"num": n}

    def retention(self, after: int, max_age: int) -> str:
        """When a channel's cases are deleted, as the reporter pages say it."""
        return self(RETENTION, after=self.days(after), max=self.days(max_age))

    def day(self, day: date | str | None) -> str:
        """A day (never a time) written the way this language writes dates (the pages' script
        writes them the same way); anything but a day is shown as it is."""
        if day is None:
            return ""
        if isinstance(day, str):
            try:
                return self.day(date.fromisoformat(day))
            except ValueError:
                return day
        return format_date(day, format="long", locale=self.locale)

    def number(self, value: float, *, decimals: int = 0) -> str:
        """A number written the way this language writes numbers (grouping, decimal sign), in
        Latin digits as the pages' script writes them."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def script_strings(self) -> dict[str, str]:
        """The translations the page's script needs; English needs none."""
        if self.lang == SOURCE:
            return {}
        pairs = ((m, self.translations.gettext(m)) for m in sorted(script_messages()))
        return {m: text for m, text in pairs if text != m}


@cache
def _load(lang: str) -> Catalogue:
    if lang not in languages():
        raise KeyError(lang)
    declares = declared(po_path(lang).read_bytes()) if lang != SOURCE else {}
    return Catalogue(lang=lang, translations=_translations(lang), declares=declares)


def parse_accept_language(header: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(header: str, default: str = SOURCE) -> str:
    """The shipped language an Accept-Language header asks for first, else ``default``."""
    shipped = languages()
    for tag in parse_accept_language(header):
        primary = tag.split("-")[0].split("_")[0]
        if primary in shipped:
            return primary
    return default


def from_environment(env: Mapping[str, str]) -> Catalogue:
    """The catalogue the usual locale variables ask for, as gettext reads them: LANGUAGE (a
    list, most wanted first), else LC_ALL, LC_MESSAGES, LANG; "C", "POSIX" or an unshipped
    language fall through to the next, and English is the last resort."""
    wanted: list[str] = []
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        wanted.extend(value.split(":") if variable == "LANGUAGE" else [value])
    for tag in wanted:
        primary = tag.split(".")[0].split("@")[0].split("_")[0].split("-")[0].lower()
        if primary in languages():
            return Catalogue.load(primary)
    return Catalogue.load(SOURCE)
