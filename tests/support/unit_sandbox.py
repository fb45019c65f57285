"""Run a command under the system call sandbox that a shipped systemd unit asks for.

Usage (with Debian's python3, which has libseccomp's bindings from python3-seccomp):

    /usr/bin/python3 unit_sandbox.py UNIT_FILE COMMAND [ARG …]

It reads SystemCallFilter=, SystemCallErrorNumber=, MemoryDenyWriteExecute= and
RestrictAddressFamilies= from the unit, expands the syscall groups with
``systemd-analyze syscall-filter`` and loads the same seccomp filters systemd would, then
executes the command. So a test can show that SafeVoice really works inside the shipped unit's
sandbox without booting systemd: a dependency that needs a forbidden system call, or memory
that is writable and executable at once, makes it fail.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import sys

# Debian's python3-seccomp: there are no type hints for it, and it is not in the venv.
import seccomp  # type: ignore[import-not-found]  # python3-seccomp is a system package without type information

PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000


def unit_settings(path: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if "=" in line and not line.startswith("#"):
                key, value = line.rstrip("\n").split("=", 1)
                settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def expand(names: list[str]) -> set[str]:
    """System call names, with @groups expanded recursively."""
    calls: set[str] = set()
    groups = [n for n in names if n.startswith("@")]
    calls.update(n for n in names if not n.startswith("@"))
    if groups:
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", *groups],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in listing.splitlines():
            entry = line.strip()
            if not entry or entry.startswith("#") or not line.startswith(" "):
                continue  # blank, comment or a group's own heading
            calls |= expand([entry]) if entry.startswith("@") else {entry}
    return calls


def main() -> None:
    unit, command = sys.argv[1], sys.argv[2:]
    settings = unit_settings(unit)
    error = getattr(errno, settings.get("SystemCallErrorNumber", ["EPERM"])[-1])
    allowed: set[str] | None = None
    for value in settings.get("SystemCallFilter", []):
        names = expand(value.lstrip("~").split())
        so_far = allowed or set()
        allowed = so_far - names if value.startswith("~") else so_far | names

    # Filters stack and the strictest answer wins, as with systemd's own. The allow-list goes
    # last, because loading a filter needs system calls that it may not allow.
    extra = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        both = PROT_WRITE | PROT_EXEC
        extra.add_rule(seccomp.ERRNO(error), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, both, both))
        for call in ("mprotect", "pkey_mprotect"):
            rule = seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC)
            extra.add_rule(seccomp.ERRNO(error), call, rule)
        extra.add_rule(
            seccomp.ERRNO(error), "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC)
        )
    families = settings.get("RestrictAddressFamilies")
    if families:
        permitted = {getattr(socket, name) for name in families[-1].split()}
        for family in range(46):  # AF_MAX on Linux
            if family not in permitted:
                rule = seccomp.Arg(0, seccomp.EQ, family)
                extra.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", rule)
    extra.load()
    if allowed is not None:
        only = seccomp.SyscallFilter(defaction=seccomp.ERRNO(error))
        for call in sorted(allowed):
            # A system call this architecture does not have is simply not there.
            with contextlib.suppress(RuntimeError, ValueError):
                only.add_rule(seccomp.ALLOW, call)
        only.load()
    os.execv(command[0], command)  # noqa: S606 - the command line of the test that asked


if __name__ == "__main__":
    main()
