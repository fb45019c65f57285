"""The typed HTTP client every SafeVoice command-line tool uses.

Answers are parsed into the same Pydantic models the server declares, and refusals become the
matching ``SafeVoiceError`` with the server's sentence. Nothing identifying is sent: a fixed
user agent, no cookies kept, and an optional SOCKS proxy (``socks5h://`` resolves names through
the proxy, as Tor needs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from safevoice import errors
from safevoice.cases.schemas import CaseDetail, CaseSummary, Statistics
from safevoice.dialogue.schemas import ObjectOut, ReporterCaseView, ReporterTokenOut
from safevoice.intake.schemas import ChallengeOut, IntakeOut, ManifestOut, SubmissionOut
from safevoice.members.schemas import TokenOut

USER_AGENT = "SafeVoice"
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_ERRORS: dict[str, type[errors.SafeVoiceError]] = {
    cls.code: cls
    for cls in (
        errors.BadRequest,
        errors.BadEncoding,
        errors.BadEnvelope,
        errors.ChallengeRejected,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.TooLarge,
        errors.RateLimited,
        errors.Unavailable,
        errors.BadCode,
    )
}
_BY_STATUS: dict[int, type[errors.SafeVoiceError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.TooLarge,
    422: errors.BadRequest,
    429: errors.RateLimited,
    503: errors.Unavailable,
}


class Api:
    def __init__(
        self,
        server: str,
        *,
        proxy: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.server,
            headers=headers,
            proxy=proxy,
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def set_token(self, token: str) -> None:
        self._http.headers["Authorization"] = f"Bearer {token}"

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ProxyError as exc:
            raise errors.ClientError(
                "The proxy refused the connection; check that Tor is running and the --proxy "
                "address is right."
            ) from exc
        except httpx.TimeoutException as exc:
            raise errors.ClientError(
                f"The server at {self.server} did not answer in time; nothing may have been "
                "sent. Try again."
            ) from exc
        except httpx.TransportError as exc:
            raise errors.ClientError(
                f"Cannot reach the SafeVoice server at {self.server}; check the address "
                "(and the proxy, if you use one)."
            ) from exc
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> errors.SafeVoiceError:
        try:
            data = response.json()["error"]
            code, message = str(data["code"]), str(data["message"])
            fields = data.get("fields")
            if fields:
                message += (
                    " ("
                    + "; ".join(f"{f.get('location')}: {f.get('problem')}" for f in fields[:3])
                    + ")"
                )
        except (ValueError, KeyError, TypeError):
            code, message = "", f"The server answered with status {response.status_code}."
        cls = _ERRORS.get(code) or _BY_STATUS.get(response.status_code, errors.ClientError)
        return cls(f"The server refused: {message}")

    def _get(self, path: str, model: type[M]) -> M:
        return _parse(model.model_validate_json, self._send("GET", path).content)

    def _post(self, path: str, body: Any, model: type[M], **kwargs: Any) -> M:
        response = self._send("POST", path, json=body, **kwargs)
        return _parse(model.model_validate_json, response.content)

    # -- endpoints ------------------------------------------------------------------------

    def intake(self) -> IntakeOut:
        return self._get("/api/v1/intake", IntakeOut)

    def manifest(self) -> ManifestOut:
        return self._get("/api/v1/manifest", ManifestOut)

    def challenge(self, purpose: str) -> ChallengeOut:
        return self._post("/api/v1/challenges", {"purpose": purpose}, ChallengeOut)

    def submit(
        self,
        body: dict[str, Any],
        *,
        idempotency_key: str,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SubmissionOut:
        """Submit, retrying with the same idempotency key if the answer is lost or delayed."""
        for attempt in range(attempts):
            try:
                return self._post(
                    "/api/v1/cases",
                    body,
                    SubmissionOut,
                    headers={"Idempotency-Key": idempotency_key},
                )
            except (errors.ClientError, errors.Unavailable):
                if attempt == attempts - 1:
                    raise
                sleep(min(2.0**attempt, 10.0))
        raise AssertionError("unreachable")

    def login(self, *, role: str, member_id: str, challenge: str, signature: str) -> TokenOut:
        return self._post(
            "/api/v1/login",
            {"role": role, "id": member_id, "challenge": challenge, "signature": signature},
            TokenOut,
        )

    def cases(self) -> list[CaseSummary]:
        content = self._send("GET", "/api/v1/cases").content
        return _parse(TypeAdapter(list[CaseSummary]).validate_json, content)

    def case(self, case_id: str) -> CaseDetail:
        return self._get(f"/api/v1/cases/{case_id}", CaseDetail)

    def stats(
        self,
        *,
        period_from: str | None = None,
        period_to: str | None = None,
        channel: str | None = None,
    ) -> Statistics:
        """Workflow statistics (members and auditors); small counts come back as ``"<5"``."""
        wanted = {"from": period_from, "to": period_to, "channel": channel}
        params = {name: value for name, value in wanted.items() if value is not None}
        content = self._send("GET", "/api/v1/stats", params=params).content
        return _parse(Statistics.model_validate_json, content)

    def post_case_object(self, case_id: str, envelope: dict[str, Any]) -> ObjectOut:
        return self._post(f"/api/v1/cases/{case_id}/objects", {"envelope": envelope}, ObjectOut)

    def reporter_login(
        self, *, sign_key: str, challenge: str, solution: str, signature: str
    ) -> ReporterTokenOut:
        body = {
            "sign_key": sign_key,
            "challenge": challenge,
            "solution": solution,
            "signature": signature,
        }
        return self._post("/api/v1/reporter/login", body, ReporterTokenOut)

    def reporter_case(self) -> ReporterCaseView:
        return self._get("/api/v1/reporter/case", ReporterCaseView)

    def post_reporter_object(self, envelope: dict[str, Any]) -> ObjectOut:
        return self._post("/api/v1/reporter/objects", {"envelope": envelope}, ObjectOut)


def _parse(parser: Callable[[bytes], T], content: bytes) -> T:
    try:
        return parser(content)
    except ValidationError as exc:
        raise errors.ClientError(
            "The server's answer does not follow the SafeVoice protocol; it may be "
            "misconfigured or not a SafeVoice server."
        ) from exc
