"""The release bundle of the reporter pages: build it, load it, describe it.

Invariant 5 on the web: the committee root fingerprint that the browser checks the manifest
against is built into the bundle's JavaScript as a constant when the bundle is made
(``safevoice web build --pin …``); the running server never reads it from the database or its
settings. The server only reads the bundle folder, checks every file against the bundle record
when it starts, and serves exactly those bytes.

The bundle record (``bundle.json``) lists each file with its SHA-256, the Content-Security-Policy
the files are served with (``csp``) and the one the pages are served with (``page_csp``), and
the URLs of the only scripts allowed to run. Its own SHA-256 is the *bundle hash* an
organisation publishes; ``safevoice web verify`` compares a live server with it
(``safevoice.web.verify``).

The worker is one self-contained file (libsodium.js, SafeVoice's crypto module and the worker
code, in that order). Each page has one script (the report page ``page.js``, the follow-up page
``followup.js``, the survey page ``survey.js``), with the pages' shared helpers (``ui.js``)
built in front of it. The pages that use the worker also carry the bundle's *starter*
(``start.js``, the record's ``starter``) inline at the top of the page: it starts the worker
while the page loads, so that the worker arrives alongside the page's script and stylesheet,
and opening the report page and sending a report takes three sequential request waves: the
page; its script, style and worker; the submission. The pages' policy allows the starter by its
SHA-256, computed here from the file the record pins, and no other inline script. The build
links the modules by plain text rules that the sources keep (each says so at its top) and
refuses to build if a rule does not hold, for example after a libsodium.js update changes its
module layout.

The bundle also holds every language's catalogue (``catalogue-<lang>.<hash>.po``, listed in the
record under ``catalogues``), and a server with a bundle installed takes the pages' texts from
those files only, so the bundle hash covers every translation a reporter reads and a changed
catalogue is refused at start and noticed by ``safevoice web verify``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safevoice import i18n
from safevoice.crypto.keys import parse_fingerprint
from safevoice.errors import ConfigError
from safevoice.i18n import Catalogue
from safevoice.web.security import PAGE_CSP, page_csp

BUNDLE_FORMAT = "safevoice-web-bundle-v1"
RECORD_NAME = "bundle.json"
STATIC_PREFIX = "/static/"
ASSETS = Path(__file__).with_name("assets")
WRAPPERS_PACKAGE = "libsodium-wrappers-sumo"
SUMO_PACKAGE = "libsodium-sumo"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".po": "text/plain; charset=utf-8",
}
CATALOGUE_STEM = "catalogue-"
# The page scripts' one import: the shared helpers of ui.js, which the build puts in front.
UI_IMPORT = re.compile(r'^import \{[^}]*\} from "\./ui\.js";\n', re.MULTILINE)
PAGE_SCRIPTS = {"page": "page.js", "followup": "followup.js", "survey": "survey.js"}
STARTER = "start.js"


@dataclass(frozen=True)
class BundleFile:
    url: str
    data: bytes
    gzipped: bytes
    content_type: str


@dataclass(frozen=True)
class Bundle:
    """A loaded, checked bundle: its record and the exact bytes of every file."""

    folder: Path
    record: bytes
    pin: str
    csp: str
    # The pages' policy: ``csp`` plus the starter's hash.
    page_csp: str
    page_script: str
    followup_script: str
    survey_script: str
    worker_script: str
    starter_script: str
    stylesheet: str
    files: dict[str, BundleFile]
    # Each translated language's catalogue, read from the bundle's own files (English, the
    # source, has none).
    catalogues: dict[str, Catalogue]

    @property
    def digest(self) -> str:
        """The bundle hash: SHA-256 of the bundle record, as 64 hex digits."""
        return hashlib.sha256(self.record).hexdigest()

    @property
    def starter_text(self) -> str:
        """The starter as the pages carry it inline (its bytes are ASCII, checked at load)."""
        return self.files[self.starter_script].data.decode("ascii")

    @property
    def scripts(self) -> tuple[str, ...]:
        return (self.page_script, self.followup_script, self.survey_script, self.worker_script)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_digest(digest: str) -> str:
    """A bundle hash in groups of eight for reading aloud and comparing."""
    return " ".join(digest[i : i + 8] for i in range(0, len(digest), 8))


def parse_digest(text: str) -> str:
    cleaned = re.sub(r"[\s:-]", "", text).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        raise ConfigError("A bundle hash is 64 hexadecimal digits.")
    return cleaned


def catalogue_language(url: str) -> str | None:
    """The language of a bundle file that is a catalogue, else None."""
    name = url.removeprefix(STATIC_PREFIX)
    if not name.startswith(CATALOGUE_STEM) or not name.endswith(".po"):
        return None
    return name.removeprefix(CATALOGUE_STEM).split(".")[0]


def describe_file(url: str) -> str:
    """A bundle file as the refusals name it: a catalogue by its language."""
    name = url.removeprefix(STATIC_PREFIX)
    lang = catalogue_language(url)
    if lang is None:
        return f"file {name}"
    return f"catalogue of the language {lang!r} ({name})"


def _gzip(data: bytes) -> bytes:
    # mtime=0 keeps the compressed bytes reproducible.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _hashed_name(stem: str, suffix: str, data: bytes) -> str:
    return f"{stem}.{sha256(data)[:16]}{suffix}"


def _replace_once(text: str, old: str, new: str, *, where: str) -> str:
    if text.count(old) != 1:
        raise ConfigError(
            f"Cannot build the bundle: {where} does not contain {old!r} exactly once."
        )
    return text.replace(old, new)


def _own_module(text: str, *, name: str, imports: tuple[str, ...] = ()) -> str:
    """One of SafeVoice's modules as top-level code of the worker file.

    The listed import lines are removed (the bundle defines what they import); ``export`` is
    removed from ``export function`` declarations. Any other import or export is refused.
    """
    for line in imports:
        text = _replace_once(text, line + "\n", "", where=name)
    text = re.sub(r"^export (async )?function ", r"\1function ", text, flags=re.MULTILINE)
    if re.search(r"^\s*(import|export)\b", text, flags=re.MULTILINE):
        raise ConfigError(
            f"Cannot build the bundle: {name} has an import or export it may not have."
        )
    return text


def _libsodium(node_modules: Path) -> tuple[str, str, str]:
    """libsodium.js (sumo) as one expression, its version and its licence."""
    wrappers_dir = node_modules / WRAPPERS_PACKAGE
    sumo_dir = node_modules / SUMO_PACKAGE
    try:
        version = json.loads((wrappers_dir / "package.json").read_text(encoding="utf-8"))["version"]
        sumo_version = json.loads((sumo_dir / "package.json").read_text(encoding="utf-8"))[
            "version"
        ]
        wrappers = (wrappers_dir / "dist/modules-sumo-esm/libsodium-wrappers.mjs").read_text(
            encoding="utf-8"
        )
        sumo = (sumo_dir / "dist/modules-sumo-esm/libsodium-sumo.mjs").read_text(encoding="utf-8")
        licence = (sumo_dir / "LICENSE").read_text(encoding="utf-8")
    except (OSError, KeyError, ValueError):
        raise ConfigError(
            f"libsodium.js is not installed under {node_modules}; run `npm ci` in the SafeVoice "
            "source folder (the Makefile's set-up does this) or pass --node-modules."
        ) from None
    if version != sumo_version:
        raise ConfigError(
            "Cannot build the bundle: the two libsodium.js packages differ in version."
        )
    sumo_export = re.search(r"export default (\w+);\s*$", sumo)
    if sumo_export is None or sumo.count("export ") != 1 or re.search(r"\bimport\s*[\w{*]", sumo):
        raise ConfigError("Cannot build the bundle: libsodium-sumo's module layout is unexpected.")
    sumo_body = sumo[: sumo_export.start()] + f"return {sumo_export.group(1)};"
    head = re.match(r'import (\w+) from"libsodium-sumo";', wrappers)
    tail = re.search(r"export default (\w+);export\{[^}]*\};?\s*$", wrappers)
    if head is None or tail is None or wrappers.count("import ") != 1:
        raise ConfigError(
            "Cannot build the bundle: libsodium-wrappers' module layout is unexpected."
        )
    wrappers_body = wrappers[head.end() : tail.start()] + f"return {tail.group(1)};"
    expression = (
        f"(() => {{\nconst libsodiumSumo = (() => {{\n{sumo_body}\n}})();\n"
        f"return (({head.group(1)}) => {{\n{wrappers_body}\n}})(libsodiumSumo);\n}})()"
    )
    return expression, version, licence


def _worker_source(pin: str, node_modules: Path) -> tuple[bytes, str]:
    sodium, version, licence = _libsodium(node_modules)
    crypto = _own_module((ASSETS / "crypto.js").read_text(encoding="utf-8"), name="crypto.js")
    worker = _own_module(
        (ASSETS / "worker.js").read_text(encoding="utf-8"),
        name="worker.js",
        imports=(
            'import { createCrypto } from "./crypto.js";',
            'import sodium from "./sodium.js";',
            'import { ROOT_FINGERPRINT } from "./pin.js";',
        ),
    )
    licence_comment = "\n".join(f"// {line}".rstrip() for line in licence.strip().splitlines())
    text = (
        "// SafeVoice reporter worker: a release bundle made by `safevoice web build`.\n"
        f"// It contains libsodium.js {version} (libsodium-wrappers-sumo and libsodium-sumo\n"
        "// from the npm registry), whose licence follows, and SafeVoice's own code\n"
        "// (AGPL-3.0-or-later).\n"
        f"{licence_comment}\n\n"
        "// The committee root fingerprint this bundle trusts, fixed when it was built.\n"
        f'const ROOT_FINGERPRINT = "{pin}";\n\n'
        f"const sodium = {sodium};\n\n"
        f"{crypto}\n{worker}"
    )
    return text.encode("utf-8"), version


def _page_source(name: str, worker_name: str) -> bytes:
    """A page script with the shared helpers in front and the bundled worker's name."""
    text = _replace_once(
        (ASSETS / name).read_text(encoding="utf-8"),
        '"./worker.js"',
        f'"./{worker_name}"',
        where=name,
    )
    if len(UI_IMPORT.findall(text)) != 1:
        raise ConfigError(f"Cannot build the bundle: {name} must import ui.js exactly once.")
    ui = _own_module((ASSETS / "ui.js").read_text(encoding="utf-8"), name="ui.js")
    page = _own_module(UI_IMPORT.sub("", text), name=name)
    return f"{ui}\n{page}".encode()


def _starter_source(worker_name: str) -> bytes:
    """The starter, naming the bundled worker by its URL."""
    text = _replace_once(
        (ASSETS / STARTER).read_text(encoding="utf-8"),
        '"./worker.js"',
        f'"{STATIC_PREFIX}{worker_name}"',
        where=STARTER,
    )
    if re.search(r"^\s*(import|export)\b", text, flags=re.MULTILINE):
        raise ConfigError(f"Cannot build the bundle: {STARTER} may have no import or export.")
    data = text.encode("utf-8")
    _check_inline(data)
    return data


def _check_inline(data: bytes) -> None:
    """Refuse a starter that cannot be written into a page exactly as it is. The HTML parser
    ends or changes a script text holding "<" (``</script>``, ``<!--``), a carriage return or a
    NUL, and the policy's hash would then not match what the page runs; ASCII keeps the text
    the same bytes in every page."""
    if not data.isascii() or any(c in data for c in b"<\r\0"):
        raise ConfigError(
            f"The page bundle's worker starter ({STARTER}) must be ASCII, without a less-than "
            "sign, carriage return or NUL."
        )


def build(*, pin: str, out: Path, node_modules: Path) -> Bundle:
    """Write a bundle for ``pin`` into ``out`` (replacing an earlier bundle there)."""
    pin = parse_fingerprint(pin)
    worker, libsodium_version = _worker_source(pin, node_modules)
    worker_name = _hashed_name("worker", ".js", worker)
    style = (ASSETS / "style.css").read_bytes()
    starter = _starter_source(worker_name)
    files = {
        worker_name: worker,
        _hashed_name("start", ".js", starter): starter,
        _hashed_name("style", ".css", style): style,
    }
    for stem, source in PAGE_SCRIPTS.items():
        script = _page_source(source, worker_name)
        files[_hashed_name(stem, ".js", script)] = script
    names = {name.split(".")[0]: STATIC_PREFIX + name for name in files}
    catalogues: dict[str, str] = {}
    for lang in i18n.languages():
        if lang != i18n.SOURCE:
            po = i18n.po_path(lang).read_bytes()
            name = _hashed_name(CATALOGUE_STEM + lang, ".po", po)
            files[name] = po
            catalogues[lang] = STATIC_PREFIX + name
    record: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "pin": pin,
        "csp": PAGE_CSP,
        "page_csp": page_csp(starter),
        "scripts": [names[stem] for stem in PAGE_SCRIPTS],
        "starter": names["start"],
        "workers": [names["worker"]],
        "styles": [names["style"]],
        "catalogues": catalogues,
        "files": {
            STATIC_PREFIX + name: {"sha256": sha256(data), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
        "libsodium": libsodium_version,
    }
    record_bytes = json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")

    if out.exists() and any(out.iterdir()) and not (out / RECORD_NAME).exists():
        raise ConfigError(f"{out} is not empty and holds no bundle; choose an empty folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    static = staging / "static"
    static.mkdir()
    for name, data in files.items():
        (static / name).write_bytes(data)
        (static / f"{name}.gz").write_bytes(_gzip(data))
    (staging / RECORD_NAME).write_bytes(record_bytes)
    for path in (*static.iterdir(), staging / RECORD_NAME):
        path.chmod(0o444)
    static.chmod(0o555)
    staging.chmod(0o555)
    if out.exists():
        _remove(out)
    staging.rename(out)
    return load(out)


def _remove(folder: Path) -> None:
    for path in (folder, *folder.rglob("*")):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def load(folder: Path) -> Bundle:
    """Read a bundle and check every file against its record; refuse anything else."""
    try:
        record_bytes = (folder / RECORD_NAME).read_bytes()
        record = json.loads(record_bytes)
    except (OSError, ValueError):
        raise ConfigError(f"{folder} holds no readable SafeVoice page bundle.") from None
    if not isinstance(record, dict) or record.get("format") != BUNDLE_FORMAT:
        raise ConfigError(f"{folder}/{RECORD_NAME} is not a SafeVoice page bundle record.")
    if record.get("csp") != PAGE_CSP:
        raise ConfigError(
            "The page bundle was built for another version of SafeVoice (its security policy "
            "differs); build it again with `safevoice web build`."
        )
    files: dict[str, BundleFile] = {}
    for url, entry in record["files"].items():
        name = url.removeprefix(STATIC_PREFIX)
        if not url.startswith(STATIC_PREFIX) or "/" in name or name.startswith("."):
            raise ConfigError("The page bundle record names a file outside its folder.")
        data = (folder / "static" / name).read_bytes()
        gzipped = (folder / "static" / f"{name}.gz").read_bytes()
        if sha256(data) != entry["sha256"] or gzip.decompress(gzipped) != data:
            raise ConfigError(f"The page bundle's {describe_file(url)} does not match its record.")
        files[url] = BundleFile(
            url=url,
            data=data,
            gzipped=gzipped,
            content_type=CONTENT_TYPES[Path(name).suffix],
        )
    scripts = {url.removeprefix(STATIC_PREFIX).split(".")[0]: url for url in record["scripts"]}
    if set(scripts) != set(PAGE_SCRIPTS):
        raise ConfigError(
            "The page bundle was built for another version of SafeVoice (its scripts differ); "
            "build it again with `safevoice web build`."
        )
    starter = _loaded_starter(record, files)
    listed = record.get("catalogues")
    shipped = {lang for lang in i18n.languages() if lang != i18n.SOURCE}
    if not isinstance(listed, dict) or set(listed) != shipped:
        raise ConfigError(
            "The page bundle was built for another version of SafeVoice (its languages "
            "differ); build it again with `safevoice web build`."
        )
    catalogues = {}
    for lang, url in sorted(listed.items()):
        if url not in files or catalogue_language(url) != lang:
            raise ConfigError(f"The page bundle record names no catalogue file for {lang!r}.")
        catalogues[lang] = Catalogue.from_po(lang, files[url].data)
    return Bundle(
        folder=folder,
        record=record_bytes,
        pin=parse_fingerprint(record["pin"]),
        csp=record["csp"],
        page_csp=record["page_csp"],
        page_script=scripts["page"],
        followup_script=scripts["followup"],
        survey_script=scripts["survey"],
        worker_script=record["workers"][0],
        starter_script=starter,
        stylesheet=record["styles"][0],
        files=files,
        catalogues=catalogues,
    )


def _loaded_starter(record: dict[str, Any], files: dict[str, BundleFile]) -> str:
    """The URL of the bundle's worker starter, once its text is fit to be inlined and the
    pages' policy allows exactly it."""
    starter = record.get("starter")
    if not isinstance(starter, str) or starter not in files:
        raise ConfigError(
            "The page bundle was built for another version of SafeVoice (it has no worker "
            "starter); build it again with `safevoice web build`."
        )
    _check_inline(files[starter].data)
    if record.get("page_csp") != page_csp(files[starter].data):
        raise ConfigError(
            "The page bundle's page policy does not allow exactly its worker starter; build it "
            "again with `safevoice web build`."
        )
    return starter


def default_node_modules() -> Path:
    """``node_modules`` of the working folder, else of the source tree this code runs from."""
    here = Path.cwd() / "node_modules"
    if (here / WRAPPERS_PACKAGE).is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "node_modules"
