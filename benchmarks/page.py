"""What a reporter's browser does on the report page (DESIGN.md, Performance).

Starts the real server (two workers, SQLite) with a release bundle, opens the report page in
headless Debian Chromium with its network log switched on (``--log-net-log``, which also sees
the Web Worker's requests), fills the form, presses submit and waits for the follow-up code.
Measured:

- ``page_bytes``: bytes on the wire (compressed bodies plus response headers) of everything
  the page loads from opening it to showing the code, the submission's answer included;
- ``waves``: sequential request waves in that time, from the network log. A request belongs
  to wave 1 + the highest wave of the requests that had finished before it started, so
  independent parallel requests share a wave and each dependent one adds one (the worst run;
  ``waves_by_run`` lists every run). On loopback a round trip takes a millisecond, so a busy
  machine that holds up the browser (starting the worker's thread, say) can make a request
  start after an unrelated one ended and count an extra wave; ``--rtt-ms`` gives every request
  a round-trip time (Chromium's DevTools network emulation, which covers the worker's requests
  too), as on Tor, so that only a real dependency adds a wave;
- ``submit_to_code_ms``: from pressing submit right after the page said it was ready (so the
  Argon2id derivation of the code and the proof of work, which the page starts while the
  reporter writes, are mostly still to do) to the code on screen;
- ``other_origin_requests``: requests the page made anywhere but the server (must be 0).

Instance: Argon2id 64 MiB with 3 passes for the code (the default of ``safevoice manifest
sign``) and proof-of-work difficulty 8 (the default of an instance).

Usage: .venv/bin/python -m benchmarks.page [--runs 3] [--lang de ...|--lang all] [--rtt-ms 0]
[--allow-busy].
Each language given (English by default; ``all`` for every shipped one) is measured with
``?lang=``; the figures are the worst over the languages, with ``page_kb`` per language beside
them. Prints one JSON object on its last line.
The last line carries the load average at the start and the end; timings from a machine
busier than its cores are withheld (null, exit status 3) unless --allow-busy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, sync_playwright

from benchmarks.harness import (
    Instance,
    LoadWatch,
    add_busy_option,
    fresh_database,
    release_bundle,
    running_server,
    safevoice_server,
    set_up,
)
from safevoice.i18n import languages

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DIFFICULTY = 8
CODE_OPSLIMIT = 3


def requests_from_net_log(path: Path) -> list[dict[str, Any]]:
    """URL requests in Chromium's network log: url, start, end, bytes received."""
    log = json.loads(path.read_text())
    event_types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    source_types = {v: k for k, v in log["constants"]["logSourceType"].items()}
    found: dict[int, dict[str, Any]] = {}
    for event in log["events"]:
        if source_types.get(event["source"]["type"]) != "URL_REQUEST":
            continue
        kind = event_types[event["type"]]
        entry = found.setdefault(
            event["source"]["id"], {"raw": 0, "filtered": 0, "headers": 0, "url": None}
        )
        params = event.get("params", {})
        time_ms = int(event["time"])
        if kind == "REQUEST_ALIVE" and event.get("phase") == 1:
            entry["url"], entry["start"] = params.get("url"), time_ms
        elif kind == "URL_REQUEST_START_JOB" and "initiator" in params:
            entry.setdefault("initiator", params["initiator"])
        elif kind == "REQUEST_ALIVE" and event.get("phase") == 2:
            entry["end"] = time_ms
        elif kind == "URL_REQUEST_JOB_BYTES_READ":
            entry["raw"] += params.get("byte_count", 0)
        elif kind == "URL_REQUEST_JOB_FILTERED_BYTES_READ":
            entry["filtered"] += params.get("byte_count", 0)
        elif kind == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
            entry["headers"] += sum(len(h) + 2 for h in params.get("headers", []))
    return [r for r in found.values() if r["url"] and "start" in r and "end" in r]


def waves(requests: list[dict[str, Any]]) -> int:
    ordered = sorted(requests, key=lambda r: r["start"])
    for request in ordered:
        before = [r["wave"] for r in ordered if "wave" in r and r["end"] <= request["start"]]
        request["wave"] = 1 + max(before, default=0)
    return max((r["wave"] for r in ordered), default=0)


def one_run(base: str, net_log: Path, lang: str = "en", rtt_ms: int = 0) -> dict[str, Any]:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, f"--log-net-log={net_log}", "--net-log-capture-mode=Default"],
        )
        page = browser.new_page()
        if rtt_ms:
            emulate_latency(page, rtt_ms)
        page.set_default_timeout(120_000)
        page.goto(f"{base}/report/general?lang={lang}")
        page.wait_for_selector("#pin-line:not([hidden])")
        page.fill("#report-text", "A near-miss at the loading bay: the barrier was left open.")
        started = time.perf_counter()
        page.click("#submit-button")
        page.wait_for_selector("#code-panel:not([hidden])")
        submit_to_code = (time.perf_counter() - started) * 1000
        browser.close()
    return {"lang": lang, "submit_to_code_ms": round(submit_to_code), **on_the_wire(net_log, base)}


def on_the_wire(net_log: Path, base: str) -> dict[str, Any]:
    """What a browser's network log says the page at ``base`` loaded: bytes on the wire
    (compressed bodies plus response headers), requests, waves and requests elsewhere."""
    origin = urlsplit(base)
    everything = requests_from_net_log(net_log)
    ours = [r for r in everything if urlsplit(r["url"]).netloc == origin.netloc]
    # Chromium's own background requests (update checks) have no page as initiator; anything
    # the page itself asked of another origin would carry the server's origin as initiator.
    page_origin = f"{origin.scheme}://{origin.netloc}"
    elsewhere = [
        r
        for r in everything
        if r.get("initiator") == page_origin and urlsplit(r["url"]).netloc != origin.netloc
    ]
    return {
        "other_origin_requests": len(elsewhere),
        "page_bytes": sum((r["raw"] or r["filtered"]) + r["headers"] for r in ours),
        "requests": len(ours),
        "waves": waves(ours),
        "urls": sorted({urlsplit(r["url"]).path for r in ours}),
    }


def emulate_latency(page: Page, rtt_ms: int) -> None:
    """Give every request of the page (its Web Worker's included) ``rtt_ms`` of latency."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("Network.enable")
    devtools.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": rtt_ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )


class Served(NamedTuple):
    instance: Instance
    folder: Path  # a scratch folder, removed afterwards
    base: str  # the server's URL
    browser: Browser


@contextmanager
def served_with_chromium(*, difficulty: int) -> Iterator[Served]:
    """A fresh SQLite instance serving its release bundle, and headless Chromium to visit it."""
    with fresh_database("sqlite") as url, tempfile.TemporaryDirectory() as folder:
        instance = set_up(url, difficulty=difficulty)
        env = release_bundle(instance, Path(folder))
        with (
            running_server(safevoice_server(url), env=env) as (base, _process),
            sync_playwright() as driver,
        ):
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield Served(instance, Path(folder), base, browser)
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--lang", action="append", help="a language to measure (repeatable), or all"
    )
    parser.add_argument(
        "--rtt-ms", type=int, default=0, help="round-trip time given to every request (0: none)"
    )
    add_busy_option(parser)
    args = parser.parse_args()
    wanted = args.lang or ["en"]
    langs = list(languages()) if "all" in wanted else wanted
    watch = LoadWatch(allow_busy=args.allow_busy)
    results = []
    with fresh_database("sqlite") as url, tempfile.TemporaryDirectory() as folder:
        instance = set_up(url, difficulty=DIFFICULTY, code_opslimit=CODE_OPSLIMIT)
        env = release_bundle(instance, Path(folder))
        with running_server(safevoice_server(url), env=env) as (base, _process):
            for lang in langs:
                for run in range(args.runs):
                    net_log = Path(folder) / f"net-{lang}-{run}.json"
                    result = one_run(base, net_log, lang, args.rtt_ms)
                    print(json.dumps(result, sort_keys=True))
                    results.append(result)
    watch.emit(
        {
            "page_bytes": max(r["page_bytes"] for r in results),
            "page_kb": round(max(r["page_bytes"] for r in results) / 1024, 1),
            "page_kb_by_language": {
                lang: round(max(r["page_bytes"] for r in results if r["lang"] == lang) / 1024, 1)
                for lang in langs
            },
            "waves": max(r["waves"] for r in results),
            "waves_by_run": [r["waves"] for r in results],
            "rtt_ms": args.rtt_ms,
            "submit_to_code_ms": round(statistics.median(r["submit_to_code_ms"] for r in results)),
            "submit_to_code_ms_max": max(r["submit_to_code_ms"] for r in results),
            "other_origin_requests": sum(r["other_origin_requests"] for r in results),
            "runs": len(results),
            "difficulty": DIFFICULTY,
            "code_kdf": f"argon2id 64 MiB x {CODE_OPSLIMIT}",
        },
        figures=["submit_to_code_ms", "submit_to_code_ms_max"],
    )


if __name__ == "__main__":
    main()
