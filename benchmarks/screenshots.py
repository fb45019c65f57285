"""Screenshots of the reporter pages, so anyone can look at them without running a server.

Starts the real server (SQLite, two workers, a release bundle) and takes full-page screenshots
in headless Chromium of the start page, the report page and the follow-up code page, on a
desktop (1280 px) and a phone (360 px) width.

Usage: .venv/bin/python -m benchmarks.screenshots [--out benchmarks/out]
Prints one JSON object (the files written) on its last line.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from benchmarks.harness import emit, fresh_database, running_server, safevoice_server, set_up
from benchmarks.page import ARGS, CHROMIUM
from safevoice.web import bundle

WIDTHS = {"desktop": 1280, "phone": 360}


def fill_and_send(page: Page) -> None:
    page.wait_for_selector("#pin-line:not([hidden])")
    page.fill("#report-text", "The barrier at the loading bay was left open during the night.")
    page.click("#submit-button")
    page.wait_for_selector("#code-panel:not([hidden])")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with fresh_database("sqlite") as url, tempfile.TemporaryDirectory() as folder:
        instance = set_up(url, difficulty=4)
        built = bundle.build(
            pin=instance.root.public.fingerprint,
            out=Path(folder) / "bundle",
            node_modules=bundle.default_node_modules(),
        )
        env = {"SAFEVOICE_BUNDLE_DIR": str(built.folder)}
        with (
            running_server(safevoice_server(url), env=env) as (base, _process),
            sync_playwright() as driver,
        ):
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, width in WIDTHS.items():
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{base}/")
                for shot in ("landing", "report", "code"):
                    if shot == "report":
                        page.goto(f"{base}/report/general")
                        page.wait_for_selector("#pin-line:not([hidden])")
                    if shot == "code":
                        fill_and_send(page)
                    path = args.out / f"{shot}-{name}.png"
                    page.screenshot(path=str(path), full_page=True)
                    written.append(str(path))
                page.close()
            browser.close()
    emit({"screenshots": written})


if __name__ == "__main__":
    main()
