"""The shipped stylesheets say start and end, never left and right (logical properties only),
so that a right-to-left page (Arabic) mirrors without a second stylesheet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "safevoice"
STYLESHEETS = sorted(SRC.rglob("*.css"))
COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# A block of declarations: the innermost braces (a rule inside @media is innermost too).
BLOCK = re.compile(r"\{([^{}]*)\}")
PHYSICAL_PROPERTY = re.compile(r"(^|-)(left|right)(-|$)")
SIDE_VALUED = {"float", "clear", "text-align", "text-align-last", "caption-side", "resize"}
SIDE_VALUE = re.compile(r"\b(left|right)\b")


def physical(css: str) -> list[str]:
    """The declarations of a stylesheet that name a physical side."""
    found = []
    for block in BLOCK.findall(COMMENT.sub("", css)):
        for declaration in block.split(";"):
            name, colon, value = declaration.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if not colon or name.startswith("--"):
                continue
            if PHYSICAL_PROPERTY.search(name) or (name in SIDE_VALUED and SIDE_VALUE.search(value)):
                found.append(f"{name}: {value}")
    return found


def test_the_check_finds_physical_sides_and_lets_logical_ones_pass() -> None:
    css = """
    /* margin-left: 1rem in a comment is no declaration */
    .a { margin-left: 1rem; padding-inline-start: 1rem; }
    @media (max-width: 40rem) { .b { left: 0; inset-inline-end: 0; float: right; } }
    .c { text-align: left; border-top-right-radius: 2px; text-align: start; float: inline-end; }
    .d { --gap-left: 1rem; border-right: 1px solid; padding-right:0 }
    """
    assert physical(css) == [
        "margin-left: 1rem",
        "left: 0",
        "float: right",
        "text-align: left",
        "border-top-right-radius: 2px",
        "border-right: 1px solid",
        "padding-right: 0",
    ]


def test_the_reporter_pages_and_the_desk_ship_their_stylesheets() -> None:
    names = {p.relative_to(SRC).as_posix() for p in STYLESHEETS}
    assert {"web/assets/style.css", "desk/static/desk.css"} <= names


@pytest.mark.parametrize("stylesheet", STYLESHEETS, ids=lambda p: p.name)
def test_every_shipped_stylesheet_uses_logical_properties_only(stylesheet: Path) -> None:
    assert physical(stylesheet.read_text(encoding="utf-8")) == []
