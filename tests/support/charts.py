"""The statistics charts read back from a page (the HTML statistics file or the desk's metrics
page) as a member sees them: each chart found by its accessible name, and per row its label,
whether a bar is drawn, and the figure written beside the bar or in its place."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

SUPPRESSED = ("<5", "hidden")
NOTES = ("", " (based on fewer than 5)", " (hidden to protect a small count)")


@dataclass(frozen=True)
class Row:
    label: str
    bar: bool
    text: str


class _Charts(HTMLParser):
    """Each ``svg`` with role=img by its aria-label; per row of a bar chart, in order: the
    label (anchored at its end), a bar if drawn, then the figure beside it or in its place."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[tuple[str, dict[str, Row]]] = []
        self._rows: dict[str, Row] | None = None
        self._label = ""
        self._text: dict[str, str | None] | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg" and found.get("role") == "img":
            self._rows = {}
            self.charts.append((found.get("aria-label") or "", self._rows))
        elif self._rows is None:
            return
        elif tag == "rect" and found.get("class") == "bar":
            self._rows[self._label] = Row(self._label, bar=True, text="")
        elif tag == "text":
            self._text = found
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._rows = None
        elif tag == "text":
            self._text = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._rows is None or self._text is None or self._in_title:
            return
        if self._text.get("text-anchor") == "end":
            self._label = data
            self._rows[data] = Row(data, bar=False, text="")
        elif self._label:
            self._rows[self._label] = Row(self._label, self._rows[self._label].bar, data)


def chart(page: str, name: str) -> dict[str, Row]:
    """The rows of the one bar chart on ``page`` whose accessible name is ``name``."""
    parser = _Charts()
    parser.feed(page)
    found = [rows for label, rows in parser.charts if label == name]
    assert len(found) == 1, f"{len(found)} charts named {name!r}"
    return found[0]


def assert_charted(page: str, name: str, label: str, figure: str) -> None:
    """``figure`` is in the chart ``name`` on the row ``label``, drawn as a bar unless it is
    suppressed, and written out in the chart's table as well."""
    row = chart(page, name).get(label)
    assert row is not None, f"no row {label!r} in {name!r}"
    suppressed = figure.split(" ")[0] in SUPPRESSED
    assert row.bar != suppressed, row
    assert row.text in ({figure + note for note in NOTES} if suppressed else {figure}), row
    assert f'<td>{escape(label)}</td><td class="num">{escape(figure)}</td>' in page
