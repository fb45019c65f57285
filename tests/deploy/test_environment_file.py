"""deploy/safevoice.env.example documents every setting the server reads, with its real default,
and as shipped it cannot go live: production mode refuses its placeholder password."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from safevoice.instance.production import database_url_problem
from safevoice.settings import Settings
from tests.support.deploy import DEPLOY

EXAMPLE = DEPLOY / "safevoice.env.example"
LINE = re.compile(r"^(#?)(SAFEVOICE_[A-Z_]+)=(.*)$")
# Commented lines that show an example rather than the default (their comments say why).
EXAMPLES = {"SAFEVOICE_DATABASE_URL_FILE", "SAFEVOICE_BLOB_STORE"}


class RecordingEnv(dict[str, str]):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]  # a stand-in mapping with a looser signature than os.environ's get
        self.asked.add(key)
        return super().get(key, default)


def example_lines() -> Iterator[tuple[bool, str, str]]:
    """(commented out, name, value) for every setting line of the example."""
    for line in EXAMPLE.read_text().splitlines():
        found = LINE.match(line)
        if found:
            yield found.group(1) == "#", found.group(2), found.group(3)


def test_every_setting_the_server_reads_is_documented_and_nothing_else() -> None:
    env = RecordingEnv()
    Settings.from_env(env)
    documented = [name for _, name, _ in example_lines()]

    assert sorted(documented) == sorted(env.asked)
    assert len(documented) == len(set(documented))


def test_every_setting_has_a_comment_that_states_its_default() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if LINE.match(line):
            comment = []
            for above in reversed(lines[:number]):
                if not above.startswith("# "):
                    break
                comment.append(above)
            text = " ".join(comment)
            assert "Default" in text, line


def test_commented_defaults_are_the_real_defaults() -> None:
    defaults = Settings.from_env({})
    for commented, name, value in example_lines():
        if commented and name not in EXAMPLES:
            assert Settings.from_env({name: value}) == defaults, name


def test_the_example_as_shipped_is_production_mode_and_refused_for_its_placeholder() -> None:
    env = {name: value for commented, name, value in example_lines() if not commented}

    settings = Settings.from_env(env)

    assert settings.production is True
    assert settings.bundle_dir == Path("/opt/safevoice/bundle")
    problem = database_url_problem(settings.database_url)
    assert problem is not None
    assert "placeholder" in problem
    assert "CHANGE-ME" not in problem
