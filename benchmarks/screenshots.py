"""Screenshots of the reporter pages, so anyone can look at them without running a server.

Starts the real server (SQLite, two workers, a release bundle) and takes full-page screenshots
in headless Chromium of the start page, the report page and the follow-up code page, then (after
a committee member acknowledged the report and asked a question) of the follow-up login page
and of the thread the reporter reads there, on a desktop (1280 px) and a phone (360 px) width.

Usage: .venv/bin/python -m benchmarks.screenshots [--out benchmarks/out]
Prints one JSON object (the files written) on its last line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from playwright.sync_api import Page

from benchmarks.harness import Instance, emit
from benchmarks.page import served_with_chromium
from safevoice.client.api import Api
from safevoice.clock import utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import STATUS_FORMAT, body_plaintext, member_label, message_plaintext
from safevoice.crypto.encoding import b64e
from safevoice.crypto.login import sign_login
from safevoice.protocol.reader import read_case
from safevoice.protocol.workflow import next_object

WIDTHS = {"desktop": 1280, "phone": 360}
QUESTION = (
    "Thank you for your report. Was the barrier also left open on other nights, and do you "
    "know who had the keys that week?"
)


def fill_and_send(page: Page) -> tuple[str, str]:
    """Send a report; returns its follow-up code and case id."""
    page.wait_for_selector("#pin-line:not([hidden])")
    page.fill("#report-text", "The barrier at the loading bay was left open during the night.")
    page.click("#submit-button")
    page.wait_for_selector("#code-panel:not([hidden])")
    code = page.text_content("#follow-up-code") or ""
    return code, json.loads(page.text_content("#receipt") or "{}")["case_id"]


def member_answers(base: str, instance: Instance, case_id: str) -> None:
    """The first member acknowledges the report (signed) and asks a question."""
    member = instance.members[0]
    label = member_label(member.public.id)
    with Api(base) as api:
        challenge = powmod.parse(api.challenge("member-login").challenge)
        signature = sign_login(member.sign_seed, instance.manifest.instance_id, challenge)
        token = api.login(
            role="member",
            member_id=member.public.id,
            challenge=challenge.token,
            signature=b64e(signature),
        )
        api.set_token(token.token)
        detail = api.case(case_id)
        read = read_case(detail, keys=member, label=label, manifest=instance.manifest)
        acknowledgement = body_plaintext(
            STATUS_FORMAT,
            status="acknowledged",
            outcome=None,
            on=utcnow().date().isoformat(),
            text="Your report was received by the committee.",
        )
        status = next_object(read, detail, kind="status", plaintext=acknowledgement, keys=member)
        api.change_status(case_id, {"status": "acknowledged", "envelope": status.to_json()})
        detail = api.case(case_id)
        read = read_case(detail, keys=member, label=label, manifest=instance.manifest)
        question = next_object(
            read, detail, kind="message", plaintext=message_plaintext(QUESTION), keys=member
        )
        api.post_case_object(case_id, question.to_json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with served_with_chromium(difficulty=4) as (instance, _folder, base, browser):
        codes: dict[str, str] = {}
        for name, width in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{base}/")
            for shot in ("landing", "report", "code"):
                if shot == "report":
                    page.goto(f"{base}/report/general")
                    page.wait_for_selector("#pin-line:not([hidden])")
                if shot == "code":
                    codes[name], case_id = fill_and_send(page)
                    member_answers(base, instance, case_id)
                path = args.out / f"{shot}-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(str(path))
            page.goto(f"{base}/follow-up")
            page.wait_for_selector("#pin-line:not([hidden])")
            path = args.out / f"follow-up-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(str(path))
            page.fill("#code", codes[name])
            page.click("#login-button")
            page.wait_for_selector("#thread-panel:not([hidden])", timeout=60_000)
            path = args.out / f"thread-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(str(path))
            page.close()
    emit({"screenshots": written})


if __name__ == "__main__":
    main()
