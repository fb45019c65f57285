"""Screenshots of the committee desk for the README: the inbox and a case.

Starts the real server (SQLite, a release bundle), sends three reports through the real report
page in headless Chromium, then starts the desk for the first member, unlocks it in the browser,
acknowledges one case and asks the reporter a question, and takes screenshots of the inbox and
of that case.

Usage: .venv/bin/python -m benchmarks.desk_screenshots [--out docs]
Prints one JSON object (the files written) on its last line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.harness import emit
from benchmarks.page import served_with_chromium
from safevoice.crypto.keys import seal_keyfile
from safevoice.desk.server import DeskServer
from safevoice.desk.state import Desk

PASSPHRASE = "screenshot passphrase"  # noqa: S105 - a throwaway key made for this run
REPORTS = (
    "The barrier at the loading bay was left open during the night, three times last week.",
    "Overtime hours in the night shift are recorded as regular hours.",
    "A supplier offered our buyer tickets to the cup final before the tender closed.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with served_with_chromium(difficulty=4) as (instance, folder, base, browser):
        key_file = folder / "alice.key"
        member = instance.members[0]
        key_file.write_text(json.dumps(seal_keyfile(member, PASSPHRASE, opslimit=1, memlimit=8192)))
        reporter = browser.new_page(viewport={"width": 1024, "height": 900})
        case_ids = []
        for text in REPORTS:
            reporter.goto(f"{base}/report/general")
            reporter.wait_for_selector("#pin-line:not([hidden])")
            reporter.fill("#report-text", text)
            reporter.click("#submit-button")
            reporter.wait_for_selector("#code-panel:not([hidden])", timeout=60_000)
            case_ids.append(json.loads(reporter.text_content("#receipt") or "{}")["case_id"])
        desk = Desk(
            home=folder / "home",
            server=base,
            key_file=key_file,
            pin=instance.root.public.fingerprint,
        )
        runner = DeskServer(desk)
        thread = runner.start_in_thread()
        while not runner.server.started:
            time.sleep(0.05)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(runner.admission.open_url)
        page.fill("#passphrase", PASSPHRASE)
        page.click("button:has-text('Unlock')")
        page.wait_for_selector("h1:has-text('Inbox')")
        page.goto(f"{runner.admission.origin}/cases/{case_ids[0]}")
        page.click("button:has-text('Acknowledge')")
        page.fill("#reply-text", "Thank you. Which nights exactly, and was the alarm on?")
        page.click("button:has-text('Send')")
        page.wait_for_selector("#flash")
        page.goto(f"{runner.admission.origin}/")
        path = args.out / "desk-inbox.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(str(path))
        page.goto(f"{runner.admission.origin}/cases/{case_ids[0]}")
        path = args.out / "desk-case.png"
        page.screenshot(path=str(path), full_page=False)
        written.append(str(path))
        runner.stop()
        thread.join(timeout=30)
    emit({"screenshots": written})


if __name__ == "__main__":
    main()
