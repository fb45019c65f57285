"""A conversation between a reporter and the committee, driven through the real clients."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.conftest import Cli
from tests.support.server import ServerProcess
from tests.support.world import World


@dataclass
class Conversation:
    cli: Cli
    server: ServerProcess
    world: World
    case_id: str
    code: str

    def member(self, *args: str, expect: int | None = 0, member: str = "alice") -> object:
        return self.cli.safevoice(
            *args, expect=expect, env={"SAFEVOICE_HOME": str(self.cli.home / member)}
        )

    def login(self, member: str = "alice") -> None:
        self.member(
            "login",
            "--server",
            self.server.url,
            "--key",
            str(self.world.key_file(member)),
            "--pin",
            self.world.pin,
            member=member,
        )

    def reply(self, text_: str, member: str = "alice") -> None:
        self.cli.safevoice(
            "cases",
            "reply",
            self.case_id,
            "--text-file",
            "-",
            stdin=text_,
            env={"SAFEVOICE_HOME": str(self.cli.home / member)},
        )

    def show(self, *, expect: int | None = 0, member: str = "alice") -> dict[str, object]:
        result = self.member("cases", "show", self.case_id, "--json", expect=expect, member=member)
        return dict(json.loads(result.stdout))

    def follow_up(self, reply: str | None = None, *, expect: int | None = 0) -> dict[str, object]:
        args = ["follow-up", "--server", self.server.url, "--pin", self.world.pin, "--json"]
        stdin = self.code + "\n"
        if reply is not None:
            args += ["--reply-file", "-"]
            stdin += reply
        result = self.cli.report(*args, stdin=stdin, expect=expect)
        return dict(json.loads(result.stdout)) if result.stdout.strip() else {}
