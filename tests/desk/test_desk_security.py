"""The desk admits only the browser that opened its one-time address, and only its own pages'
requests: every other client, host, origin or form is refused, and so is everything after
Lock or the idle time."""

from __future__ import annotations

import httpx

from tests.desk.conftest import DeskHarness, Reported


def committee_head(desk: DeskHarness, case_id: str) -> int:
    session, _keys = desk.desk.require()
    return max(
        (o.seq for o in session.api.case(case_id).objects if o.chain == "committee"), default=-1
    )


def test_the_desk_listens_on_loopback_only_on_a_free_port(desk: DeskHarness) -> None:
    host, port = desk.runner.sock.getsockname()
    assert host == "127.0.0.1"
    assert port > 0
    assert desk.runner.admission.open_url.startswith(f"http://127.0.0.1:{port}/open/")


def test_another_local_client_without_the_token_is_refused(desk: DeskHarness) -> None:
    with httpx.Client(base_url=desk.origin) as stranger:
        for path in ("/", "/unlock", "/cases", "/static/desk.css"):
            response = stranger.get(path)
            assert response.status_code == 403
            assert "not been admitted" in response.text
        assert stranger.get("/open/not-the-token").status_code == 403


def test_the_one_time_address_sets_a_strict_cookie_once(desk: DeskHarness) -> None:
    first = desk.admit()
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    port = desk.runner.sock.getsockname()[1]
    assert cookie.startswith(f"safevoice_desk_{port}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    # The same address again, even from the admitted browser, is refused: it was used.
    with httpx.Client(base_url=desk.origin) as other:
        again = other.get(desk.runner.admission.open_url)
    assert again.status_code == 403
    assert "set-cookie" not in again.headers
    assert desk.http.get("/unlock").status_code == 200


def test_a_foreign_host_header_is_refused_even_with_the_cookie(desk: DeskHarness) -> None:
    desk.admit()
    port = desk.runner.sock.getsockname()[1]
    for host in (f"attacker.example:{port}", f"localhost:{port}", "127.0.0.1"):
        response = desk.http.get("/unlock", headers={"Host": host})
        assert response.status_code == 403, host
        assert "its own address" in response.text


def test_a_cross_site_post_is_refused(unlocked: DeskHarness, reported: Reported) -> None:
    before = committee_head(unlocked, reported.case_id)
    for headers in (
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        response = unlocked.post(
            f"/cases/{reported.case_id}/note", {"text": "forged"}, headers=headers
        )
        assert response.status_code == 403, headers
    no_origin = unlocked.http.post(
        f"/cases/{reported.case_id}/note", data={"csrf": unlocked.csrf, "text": "forged"}
    )
    assert no_origin.status_code == 403
    assert committee_head(unlocked, reported.case_id) == before


def test_a_post_without_the_csrf_token_is_refused(
    unlocked: DeskHarness, reported: Reported
) -> None:
    unlocked.http.get(f"/cases/{reported.case_id}")
    before = committee_head(unlocked, reported.case_id)
    headers = {"Origin": unlocked.origin, "Sec-Fetch-Site": "same-origin"}
    for data in ({"text": "forged"}, {"text": "forged", "csrf": "wrong"}):
        response = unlocked.http.post(f"/cases/{reported.case_id}/note", data=data, headers=headers)
        assert response.status_code == 403
        assert "security token" in response.text
    assert committee_head(unlocked, reported.case_id) == before


def test_after_lock_the_key_is_gone_and_requests_are_refused(
    unlocked: DeskHarness, reported: Reported
) -> None:
    assert reported.text in unlocked.http.get(f"/cases/{reported.case_id}").text
    session, _keys = unlocked.desk.require()
    before = max(
        (o.seq for o in session.api.case(reported.case_id).objects if o.chain == "committee"),
        default=-1,
    )
    assert unlocked.post("/lock").status_code == 303
    assert unlocked.desk.keys is None
    assert unlocked.desk.cases == {}
    page = unlocked.http.get(f"/cases/{reported.case_id}")
    assert page.status_code == 303
    assert page.headers["location"] == "/unlock"
    refused = unlocked.post(f"/cases/{reported.case_id}/note", {"text": "after lock"})
    assert refused.status_code == 401
    assert "locked" in refused.text
    assert reported.text not in refused.text
    unlocked.unlock()
    assert committee_head(unlocked, reported.case_id) == before


def test_after_the_idle_time_the_desk_locks_itself(
    unlocked: DeskHarness, reported: Reported
) -> None:
    assert unlocked.http.get(f"/cases/{reported.case_id}").status_code == 200
    unlocked.clock.now += unlocked.desk.idle_seconds + 1
    page = unlocked.http.get(f"/cases/{reported.case_id}")
    assert page.status_code == 303
    assert unlocked.desk.keys is None
    assert "locked itself" in unlocked.http.get("/unlock").text


def test_the_idle_watchdog_locks_without_any_request(unlocked: DeskHarness) -> None:
    unlocked.clock.now += unlocked.desk.idle_seconds + 1
    unlocked.desk.lock_if_idle()
    assert unlocked.desk.keys is None


def test_every_answer_has_a_strict_policy_and_is_not_stored(
    unlocked: DeskHarness, reported: Reported
) -> None:
    for path in ("/", "/cases", f"/cases/{reported.case_id}", "/session", "/static/desk.css"):
        response = unlocked.http.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["cache-control"] == "no-store"
        assert "<script>" not in response.text


def test_a_wrong_passphrase_unlocks_nothing(desk: DeskHarness) -> None:
    desk.admit()
    response = desk.unlock(passphrase="not the passphrase")
    assert response.status_code == 401
    assert "passphrase does not open" in response.text
    assert desk.desk.keys is None
