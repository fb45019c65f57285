"""What every command shares: error presentation, secrets input, key files, output.

Errors are shown as one sentence on standard error with exit status 1, never as a traceback.
Secrets (passphrases, report text, follow-up codes) come from prompts, files, standard input or
environment variables, never from command-line arguments, which end up in shell history and in
the process list.

Text from the other party (messages, answers, file names) and from the server is untrusted: a
terminal obeys escape sequences, so such text could recolour the screen, plant OSC-8 links or
move the cursor to fake a "signature verified" line. Both consoles therefore show every control
character as a visible escape (``\x1b``), and untrusted values put into rich markup go through
``untrusted`` so they cannot carry markup either.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from safevoice.crypto.keys import KeyPair, PublicKey, keyfile_public, open_keyfile
from safevoice.errors import BadEncoding, SafeVoiceError
from safevoice.private_files import write_private_text

# Bidirectional controls reorder what is shown ("Trojan Source"); they are format characters
# (category Cf) that a terminal renders invisibly, so they are shown like control characters.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str, *, newlines: bool = True) -> str:
    """``text`` with every control character (C0, DEL, C1, line separators, bidirectional
    controls) replaced by a visible escape; tabs stay, and newlines stay when ``newlines``."""
    kept = "\t\n" if newlines else "\t"
    return "".join(
        _shown(char)
        if char not in kept and (char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp"))
        else char
        for char in text
    )


def untrusted(text: str, *, newlines: bool = False) -> str:
    """An untrusted value made safe to place inside rich markup: visible, and no markup."""
    return escape(visible(text, newlines=newlines))


class SafeConsole(Console):
    """A console that never passes a control character from a string to the terminal."""

    def render_str(self, text: str, **kwargs: Any) -> Any:  # rich's own signature, passed on
        return super().render_str(visible(text), **kwargs)


err_console = SafeConsole(stderr=True, highlight=False, soft_wrap=True)
console = SafeConsole(highlight=False, soft_wrap=True)


class Failure(Exception):
    """A sentence for the user, shown as ``Error: …`` with exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def N_(text: str) -> str:  # noqa: N802 - the usual gettext name for "mark, translate later"
    """Marks ``text`` for the reporter's catalogue (the reporter's command line translates it)."""
    return text


def _english(message: str, **values: object) -> str:
    return message % values if values else message


class SafeVoiceGroup(TyperGroup):
    """Turns SafeVoice errors and file errors anywhere below into one-sentence failures.

    ``say`` fills the sentences (marked with ``N_``); the reporter's command line gives a
    group whose ``say`` is its catalogue, so the failures speak the reporter's language."""

    say: Callable[..., str] = staticmethod(_english)

    def invoke(self, ctx: Any) -> Any:  # typer's own Context type is private
        try:
            return super().invoke(ctx)
        except Failure as exc:
            message = exc.message
        except SafeVoiceError as exc:
            message = self.explain(exc)
        except FileNotFoundError as exc:
            message = self.say(N_("There is no file %(path)s."), path=exc.filename)
        except PermissionError as exc:
            message = self.say(N_("Permission denied for %(path)s."), path=exc.filename)
        except IsADirectoryError as exc:
            message = self.say(N_("%(path)s is a folder, not a file."), path=exc.filename)
        except KeyboardInterrupt:
            message = self.say(N_("Interrupted; nothing more was done."))
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if os.environ.get("SAFEVOICE_DEBUG"):
                raise
            message = self.say(
                N_(
                    "Something unexpected went wrong (%(error)s); nothing more was done. Set "
                    "SAFEVOICE_DEBUG=1 to see the details."
                ),
                error=type(exc).__name__,
            )
        label = self.say(N_("Error:"))
        err_console.print(f"[bold red]{escape(label)}[/] {escape(message)}")
        raise typer.Exit(code=1)

    def explain(self, exc: SafeVoiceError) -> str:
        """The sentence shown for a SafeVoice error (its own message unless a group knows a
        better one for its readers)."""
        return exc.message


def make_app(help_text: str, *, group: type[SafeVoiceGroup] = SafeVoiceGroup) -> typer.Typer:
    return typer.Typer(
        cls=group,
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )


def fail(message: str) -> NoReturn:
    raise Failure(message)


def read_passphrase(*, confirm: bool = False, what: str = "key file") -> str:
    """SAFEVOICE_PASSPHRASE if set, otherwise a hidden prompt."""
    from_env = os.environ.get("SAFEVOICE_PASSPHRASE")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        fail("A passphrase is needed: set SAFEVOICE_PASSPHRASE or run this in a terminal.")
    value: str = typer.prompt(
        f"Passphrase for the {what}", hide_input=True, confirmation_prompt=confirm
    )
    if confirm and len(value) < 8:
        fail("Choose a passphrase of at least 8 characters.")
    return value


def read_json_file(path: Path, *, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        fail(f"{path} is not a valid {what} (it is not JSON).")


def load_public(path: Path) -> PublicKey:
    """A public key file, or the public half of a private key file."""
    data = read_json_file(path, what="key file")
    try:
        if isinstance(data, dict) and data.get("format") == "safevoice-key-v1":
            return keyfile_public(data)
        return PublicKey.from_json(data)
    except BadEncoding as exc:
        fail(f"{path}: {exc.message}")


def open_key(path: Path) -> KeyPair:
    data = read_json_file(path, what="key file")
    return open_keyfile(data, read_passphrase(what=f"key file {path.name}"))


def read_secret_text(path: str | None, *, what: str, prompt: str | None = None) -> str:
    """Text from a file, from standard input (``-``), or typed at a prompt (``prompt``, or a
    sentence naming ``what``)."""
    if path == "-" or (path is None and not sys.stdin.isatty()):
        return sys.stdin.read()
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    err_console.print(
        prompt or f"Type the {what}; finish with an empty line followed by Ctrl-D.", markup=False
    )
    return sys.stdin.read()


def edit_text(text: str) -> str:
    """Let the member edit ``text`` in ``$VISUAL`` or ``$EDITOR`` (``vi`` without either).

    The text is case content: it goes to a file only its owner may read, in a private temporary
    folder that is removed as soon as the editor exits."""
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    with tempfile.TemporaryDirectory(prefix="safevoice-") as folder:
        path = Path(folder) / "text.txt"
        write_private_text(path, text)
        # The command is the member's own editor setting, run without a shell.
        done = subprocess.run([*editor, str(path)], check=False)  # noqa: S603 (the member's own $EDITOR, no shell)
        if done.returncode != 0:
            fail(f"The editor exited with status {done.returncode}; nothing was changed.")
        return path.read_text(encoding="utf-8")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
