"""The wire protocol stays findable: docs/protocol.md indexes every numbered section of the parts
under docs/protocol/, every relative link of the documentation leads to a file (and heading)
that exists, and every part names test vectors and tests that exist.

An outside implementer works from these files alone; a section added without its index row, or
a link left pointing at a moved heading, sends them nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "docs" / "protocol.md"
PARTS = sorted((ROOT / "docs" / "protocol").glob("*.md"))
DOCUMENTS = [
    INDEX,
    *PARTS,
    ROOT / "README.md",
    ROOT / "SECURITY.md",
    ROOT / "docs" / "restore-drill.md",
    ROOT / "keys" / "README.md",
]
SECTION = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.? (.+)$")
ROW = re.compile(r"^\| (\d+(?:\.\d+)*) \| \[(.+)\]\(protocol/([\w.-]+)#([^)]+)\) \|")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rules) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found


def test_the_protocol_is_an_index_and_ten_parts() -> None:
    assert len(INDEX.read_text(encoding="utf-8")) < 20_000
    assert {p.name for p in PARTS} >= {
        "formats-and-keys.md",
        "manifest.md",
        "sessions-and-http.md",
        "intake.md",
        "dialogue.md",
        "workflow.md",
        "attachments.md",
        "audit.md",
        "backup.md",
        "retention.md",
    }


def test_every_numbered_section_of_a_part_has_its_row_in_the_index() -> None:
    rows = {}
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            number, _title, part, anchor = match.groups()
            assert number not in rows, f"section {number} is indexed twice"
            rows[number] = (part, anchor)
    sections = {}
    for part in PARTS:
        for line in part.read_text(encoding="utf-8").splitlines():
            match = SECTION.match(line)
            if match and line.startswith(("## ", "### ")):
                assert match.group(1) not in sections, f"section {match.group(1)} twice"
                sections[match.group(1)] = (part.name, slug(line.lstrip("#")))

    assert sorted(rows) == sorted(sections), "index rows and sections differ"
    for number, (part, anchor) in sections.items():
        assert rows[number] == (part, anchor), f"section {number}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_an_existing_file_and_heading(document: Path) -> None:
    text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        assert resolved.exists(), f"{document.name}: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{document.name}: {target}"


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_every_part_names_its_test_vectors_and_tests_that_exist(part: Path) -> None:
    text = part.read_text(encoding="utf-8")
    vectors = text.split("**Test vectors.**", 1)[1].split("\n---\n", 1)[0]
    named = re.findall(r"`(tests/[\w./-]+)`", vectors)

    assert named, part.name
    for path in named:
        assert (ROOT / path).exists(), f"{part.name}: {path}"
    test_names = re.findall(r"`(test_\w+)`", vectors)
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    for name in test_names:
        if not name.endswith("_"):
            assert f"def {name}(" in sources, f"{part.name}: {name}"
