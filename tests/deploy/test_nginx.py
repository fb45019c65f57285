"""The shipped nginx site, checked by ``nginx -t`` and then run for real in front of a stand-in
for SafeVoice: TLS, body limits held in memory, the release bundle with SafeVoice's security
headers, nothing about clients passed on or logged."""

from __future__ import annotations

import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from safevoice.web.security import PAGE_CSP
from tests.support.asgi import client_for
from tests.support.canary import new_canary
from tests.support.deploy import (
    DEPLOY,
    SERVER_NAME,
    Nginx,
    Upstream,
    directive,
    parse_size,
)
from tests.support.server import free_port


def make_bundle(root: Path, source: Bundle) -> Path:
    """A copy of the real release bundle, with a hidden file and a symbolic link added to its
    static folder that must never be served."""
    bundle = root / "bundle"
    shutil.copytree(source.folder, bundle)
    static = bundle / "static"
    static.chmod(0o755)
    (static / ".secret").write_text("never served")
    (static / "linked.js").symlink_to("/etc/hostname")
    return bundle


@pytest.fixture(scope="module")
def site(
    web_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Nginx, Upstream]]:
    work = tmp_path_factory.mktemp("nginx")
    upstream = Upstream(temp_dir=work / "client_body").start()
    bundle = make_bundle(work, web_bundle)
    nginx = Nginx.render(work, upstream=f"127.0.0.1:{upstream.port}", bundle=bundle).start()
    yield nginx, upstream
    nginx.stop()
    upstream.stop()


@pytest.fixture(scope="module")
def app(web_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """SafeVoice itself serving the same bundle (its static route needs no database)."""
    unused = tmp_path_factory.mktemp("app") / "unused.sqlite"
    database = Database.connect(f"sqlite:///{unused}", pool_size=1)
    settings = Settings(database_url=f"sqlite:///{unused}", bundle_dir=web_bundle.folder)
    with client_for(create_app(settings, database=database)) as http:
        yield http
    database.dispose()


def tls_client(nginx: Nginx) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(nginx.cert))
    return httpx.Client(base_url=nginx.https, verify=context, timeout=30)


def test_the_shipped_site_passes_nginx_t_with_a_certificate_the_test_makes(
    tmp_path: Path,
) -> None:
    nginx = Nginx.render(tmp_path, upstream="unix:/run/safevoice/app.sock", bundle=tmp_path)

    checked = nginx.test_config()

    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr
    assert "test is successful" in checked.stderr
    assert "[warn]" not in checked.stderr
    assert "[emerg]" not in checked.stderr


def test_body_limit_and_body_buffer_both_equal_safevoices_request_limit() -> None:
    snippet = (DEPLOY / "nginx/safevoice-proxy.conf").read_text()
    limit = Settings().max_request_bytes

    assert [parse_size(v) for v in directive(snippet, "client_max_body_size")] == [limit]
    assert [parse_size(v) for v in directive(snippet, "client_body_buffer_size")] == [limit]
    assert directive(snippet, "proxy_max_temp_file_size") == ["0"]
    assert "access_log off" in snippet


def test_a_body_at_the_limit_stays_in_memory_and_one_byte_more_is_refused(
    site: tuple[Nginx, Upstream],
) -> None:
    nginx, upstream = site
    limit = Settings().max_request_bytes
    canary = new_canary().encode()
    body = canary + b"x" * (limit - len(canary))

    with tls_client(nginx) as http:
        upstream.seen.clear()
        accepted = http.post("/api/v1/cases", content=body)
        refused = http.post("/api/v1/cases", content=body + b"x")

    assert accepted.status_code == 200
    assert refused.status_code == 413
    assert [len(r.body) for r in upstream.seen] == [limit]
    assert upstream.seen[0].temp_files == []


def test_the_memory_probe_does_see_a_body_written_to_a_temporary_file(tmp_path: Path) -> None:
    """The control for the test above: with a small body buffer, nginx does write the body
    to a temporary file, and the upstream sees it while the request is open."""
    upstream = Upstream(temp_dir=tmp_path / "client_body").start()
    nginx = Nginx.render(
        tmp_path,
        upstream=f"127.0.0.1:{upstream.port}",
        bundle=tmp_path,
        snippet_changes={"client_body_buffer_size 2m;": "client_body_buffer_size 16k;"},
    ).start()
    try:
        with tls_client(nginx) as http:
            assert http.post("/api/v1/cases", content=b"x" * 100_000).status_code == 200
    finally:
        nginx.stop()
        upstream.stop()

    assert len(upstream.seen[0].temp_files) == 1


def test_nginx_passes_on_no_client_address_agent_referrer_or_cookie(
    site: tuple[Nginx, Upstream],
) -> None:
    nginx, upstream = site
    sent = {
        "User-Agent": "AgentSmith/9.9",
        "X-Forwarded-For": "203.0.113.7",
        "X-Real-IP": "203.0.113.7",
        "Forwarded": "for=203.0.113.7",
        "Via": "1.1 someproxy",
        "Referer": "https://intranet.example/whistle",
        "Cookie": "tracking=abc",
    }

    for base in (nginx.https, nginx.onion):
        upstream.seen.clear()
        context = ssl.create_default_context(cafile=str(nginx.cert))
        with httpx.Client(base_url=base, verify=context, timeout=30) as http:
            answer = http.get("/api/v1/intake", headers={**sent, "Host": SERVER_NAME})
            assert answer.status_code == 200

        received = upstream.seen[0].headers
        assert received["host"] == SERVER_NAME
        assert not {name.lower() for name in sent} & set(received), received
        for value in received.values():
            assert "127.0.0.1" not in value
            assert "203.0.113.7" not in value


# What nginx adds on its own: HSTS over TLS, its name without a version, and validators.
NGINX_ONLY = {"strict-transport-security", "server", "date", "etag", "last-modified"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "accept-ranges"}


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_nginx_serves_the_bundle_exactly_as_safevoice_does(
    site: tuple[Nginx, Upstream], app: httpx.Client, web_bundle: Bundle, encoding: str
) -> None:
    nginx, upstream = site
    upstream.seen.clear()
    headers = {"Accept-Encoding": encoding}

    with tls_client(nginx) as http:
        for url in web_bundle.files:
            direct = app.get(url, headers=headers)
            with http.stream("GET", url, headers=headers) as proxied:
                raw = b"".join(proxied.iter_raw())
            # SafeVoice sends the precompressed twin when gzip is accepted: so must nginx.
            file = web_bundle.files[url]
            expected = file.gzipped if encoding == "gzip" else file.data

            assert proxied.status_code == direct.status_code == 200, url
            assert raw == expected, url
            assert direct.content == file.data, url
            theirs = {k: v for k, v in proxied.headers.items() if k not in NGINX_ONLY | HOP_BY_HOP}
            ours = {k: v for k, v in direct.headers.items() if k not in HOP_BY_HOP}
            assert theirs == ours, url
            assert proxied.headers["strict-transport-security"] == "max-age=63072000"
            assert proxied.headers["server"] == "nginx"  # no version
    assert upstream.seen == []


def test_nothing_but_the_bundles_own_files_is_served_from_its_folder(
    site: tuple[Nginx, Upstream], app: httpx.Client, web_bundle: Bundle
) -> None:
    nginx, upstream = site
    upstream.seen.clear()
    script = next(iter(web_bundle.files))

    with tls_client(nginx) as http:
        refused = {
            "hidden file": http.get("/static/.secret").status_code,
            "symbolic link": http.get("/static/linked.js").status_code,
            "folder listing": http.get("/static/").status_code,
            "compressed twin": http.get(f"{script}.gz").status_code,
            "not in the bundle": http.get("/static/missing.js").status_code,
            "post": http.post(script, content=b"x").status_code,
        }

    assert refused == {
        "hidden file": 404,
        "symbolic link": 403,
        "folder listing": 403,
        "compressed twin": 404,
        "not in the bundle": 404,
        "post": 403,
    }
    assert app.get(f"{script}.gz").status_code == 404
    assert upstream.seen == []


def test_answers_from_safevoice_are_not_compressed_but_get_hsts_over_tls(
    site: tuple[Nginx, Upstream],
) -> None:
    nginx, _ = site

    with tls_client(nginx) as http:
        answer = http.get("/api/v1/intake", headers={"Accept-Encoding": "gzip"})

    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers
    assert answer.headers["strict-transport-security"] == "max-age=63072000"


def test_tls_sessions_are_never_resumed_so_visits_cannot_be_linked(
    site: tuple[Nginx, Upstream],
) -> None:
    nginx, _ = site
    context = ssl.create_default_context(cafile=str(nginx.cert))
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # where resumption is visible to a client
    request = b"GET /api/v1/intake HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    def visit(session: ssl.SSLSession | None) -> tuple[ssl.SSLSession | None, bool]:
        raw = socket.create_connection(("127.0.0.1", nginx.https_port), timeout=10)
        with context.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as tls:
            tls.sendall(request)
            while tls.recv(65536):
                pass
            return tls.session, bool(tls.session_reused)

    session, _ = visit(None)
    _, reused = visit(session)

    assert session is not None
    assert reused is False


def test_plain_http_on_the_intranet_only_redirects_to_https(site: tuple[Nginx, Upstream]) -> None:
    nginx, upstream = site
    upstream.seen.clear()

    answer = httpx.get(f"{nginx.plain}/report?x=1", timeout=30)

    assert answer.status_code == 308
    assert answer.headers["location"] == f"https://{SERVER_NAME}/report?x=1"
    assert upstream.seen == []


def test_the_onion_listener_serves_without_tls_or_hsts(
    site: tuple[Nginx, Upstream], web_bundle: Bundle
) -> None:
    nginx, upstream = site
    upstream.seen.clear()

    proxied = httpx.get(f"{nginx.onion}/api/v1/intake", timeout=30)
    static = httpx.get(f"{nginx.onion}{next(iter(web_bundle.files))}", timeout=30)

    assert proxied.status_code == 200
    assert static.status_code == 200
    assert "strict-transport-security" not in proxied.headers
    assert "strict-transport-security" not in static.headers
    assert static.headers["content-security-policy"] == PAGE_CSP
    assert len(upstream.seen) == 1


@pytest.mark.parametrize(("level", "logs_clients"), [(None, False), ("error", True)])
def test_the_error_log_keeps_no_client_address_where_a_lower_level_would(
    tmp_path: Path, level: str | None, logs_clients: bool
) -> None:
    """Traffic that nginx has something to say about (an unreachable SafeVoice, a missing
    file, a refused body, plain HTTP to the TLS port): the shipped level logs none of it,
    while level "error" (the control) logs the client's address."""
    nginx = Nginx.render(
        tmp_path,
        upstream=f"127.0.0.1:{free_port()}",  # nothing listens there
        bundle=tmp_path,
        error_level=level,
    )
    nginx.start()
    try:
        with tls_client(nginx) as http:
            assert http.get("/api/v1/intake").status_code == 502
            assert http.get("/static/missing.js").status_code == 404
            assert http.post("/api/v1/cases", content=b"x" * (3 * 1024 * 1024)).status_code == 413
        assert httpx.get(f"http://127.0.0.1:{nginx.https_port}/", timeout=30).status_code == 400
        assert httpx.get(f"{nginx.onion}/api/v1/intake", timeout=30).status_code == 502
    finally:
        nginx.stop()

    logs = nginx.logs()
    everything = "\n".join(logs.values())
    assert logs.get("access.log", "") == ""
    assert ("client: 127.0.0.1" in everything) is logs_clients, logs
    if not logs_clients:
        assert "127.0.0.1" not in everything
