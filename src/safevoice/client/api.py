"""The typed HTTP client every SafeVoice command-line tool uses.

Answers are parsed into the same Pydantic models the server declares, and refusals become the
matching ``SafeVoiceError`` with the server's sentence. Nothing identifying is sent: a fixed
user agent, no cookies kept, and an optional SOCKS proxy (``socks5h://`` resolves names through
the proxy, as Tor needs).
"""

from __future__ import annotations

import functools
import secrets
import ssl
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from safevoice import errors
from safevoice.client.patience import Patience
from safevoice.protocol.wire import (
    ActionOut,
    CaseDetail,
    CaseExport,
    CasePage,
    CaseSummary,
    ChallengeOut,
    CheckpointOut,
    DisclosureOut,
    EntriesOut,
    HoldOut,
    IntakeOut,
    LessonOut,
    ManifestOut,
    ObjectOut,
    ReporterCaseView,
    ReporterTokenOut,
    RetentionOverview,
    Statistics,
    SubmissionOut,
    SurveyAnswersOut,
    SurveyOut,
    SurveysOut,
    TokenOut,
    UploadOut,
)

USER_AGENT = "SafeVoice"
# The server's largest export page (cases with all their objects).
EXPORT_PAGE = 500
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
        errors.StorageFull,
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
    507: errors.StorageFull,
}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate store httpx would load for every client (tens of milliseconds each
    time), loaded once per process and shared: contexts are safe to share between clients."""
    return httpx.create_ssl_context()


class Api:
    def __init__(
        self,
        server: str,
        *,
        proxy: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        page_size: int | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        # How many cases a listing page asks for; None: the server's default.
        self.page_size = page_size
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
            verify=tls_context(),
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
            raise errors.Unreachable(
                f"The server at {self.server} did not answer in time; nothing may have been "
                "sent. Try again."
            ) from exc
        except httpx.TransportError as exc:
            raise errors.Unreachable(
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

    def manifest_handovers(self) -> list[dict[str, Any]]:
        """The manifests that handed the committee to a new root, oldest first (unverified)."""
        content = self._send("GET", "/api/v1/manifest/handovers").content
        parsed = _parse(TypeAdapter(list[ManifestOut]).validate_json, content)
        return [m.model_dump() for m in parsed]

    def challenge(self, purpose: str) -> ChallengeOut:
        return self._post("/api/v1/challenges", {"purpose": purpose}, ChallengeOut)

    def submit(
        self, body: dict[str, Any], *, idempotency_key: str, patience: Patience | None = None
    ) -> SubmissionOut:
        """Submit, retrying with the same idempotency key while the server is unreachable or
        unavailable (the answer may have been lost after the case was stored)."""
        return (patience or Patience(seconds=15)).run(
            lambda: self._post(
                "/api/v1/cases", body, SubmissionOut, headers={"Idempotency-Key": idempotency_key}
            )
        )

    # -- pulse surveys --------------------------------------------------------------------

    def open_surveys(self) -> SurveysOut:
        return self._get("/api/v1/surveys", SurveysOut)

    def all_surveys(self) -> list[SurveyOut]:
        content = self._send("GET", "/api/v1/surveys/all").content
        return _parse(TypeAdapter(list[SurveyOut]).validate_json, content)

    def publish_survey(self, document: dict[str, Any]) -> SurveyOut:
        return self._post("/api/v1/surveys", document, SurveyOut)

    def move_survey(self, survey_id: str, action: str) -> SurveyOut:
        return self._post(f"/api/v1/surveys/{survey_id}/{action}", None, SurveyOut)

    def answer_survey(self, survey_id: str, body: dict[str, Any]) -> None:
        self._send("POST", f"/api/v1/surveys/{survey_id}/answers", json=body)

    def survey_answers(self, survey_id: str) -> SurveyAnswersOut:
        return self._get(f"/api/v1/surveys/{survey_id}/answers", SurveyAnswersOut)

    # -- lessons learned ------------------------------------------------------------------

    def lessons(self) -> list[LessonOut]:
        content = self._send("GET", "/api/v1/lessons").content
        return _parse(TypeAdapter(list[LessonOut]).validate_json, content)

    def propose_lesson(self, body: dict[str, Any]) -> LessonOut:
        return self._post("/api/v1/lessons", body, LessonOut)

    def approve_lesson(self, lesson_id: str, approval: str) -> LessonOut:
        path = f"/api/v1/lessons/{lesson_id}/approvals"
        return self._post(path, {"approval": approval}, LessonOut)

    def login(self, *, role: str, member_id: str, challenge: str, signature: str) -> TokenOut:
        return self._post(
            "/api/v1/login",
            {"role": role, "id": member_id, "challenge": challenge, "signature": signature},
            TokenOut,
        )

    def case_page(
        self,
        *,
        cursor: str | None = None,
        overdue: bool = False,
        changed_since: date | None = None,
        limit: int | None = None,
    ) -> CasePage:
        """One page of the readable cases' summaries; ``next`` is the cursor of the next."""
        params: dict[str, str] = {}
        if cursor is not None:
            params["cursor"] = cursor
        if overdue:
            params["overdue"] = "true"
        if changed_since is not None:
            params["changed_since"] = changed_since.isoformat()
        size = limit or self.page_size
        if size is not None:
            params["limit"] = str(size)
        content = self._send("GET", "/api/v1/cases", params=params).content
        return _parse(CasePage.model_validate_json, content)

    def case_pages(
        self, *, overdue: bool = False, changed_since: date | None = None
    ) -> Iterator[CasePage]:
        """Every page of a listing, fetched as the caller goes."""
        cursor: str | None = None
        while True:
            page = self.case_page(cursor=cursor, overdue=overdue, changed_since=changed_since)
            yield page
            if page.next is None:
                return
            cursor = page.next

    def cases(self, *, overdue: bool = False) -> list[CaseSummary]:
        """Every readable case's summary, however many pages the server answers in."""
        return [case for page in self.case_pages(overdue=overdue) for case in page.cases]

    def change_status(self, case_id: str, body: dict[str, Any]) -> list[ObjectOut]:
        content = self._send("POST", f"/api/v1/cases/{case_id}/status", json=body).content
        return _parse(TypeAdapter(list[ObjectOut]).validate_json, content)

    def claim(self, case_id: str, *, offer_to: str | None = None) -> None:
        self._send("POST", f"/api/v1/cases/{case_id}/claim", json={"offer_to": offer_to})

    def record_disclosure_ground(self, case_id: str, body: dict[str, Any]) -> DisclosureOut:
        return self._post(f"/api/v1/cases/{case_id}/disclosure", body, DisclosureOut)

    def redact(self, case_id: str, body: dict[str, Any]) -> ObjectOut:
        return self._post(f"/api/v1/cases/{case_id}/redactions", body, ObjectOut)

    def recuse(self, case_id: str) -> None:
        self._send("POST", f"/api/v1/cases/{case_id}/recuse")

    def rekey(self, case_id: str, body: dict[str, Any]) -> ObjectOut:
        return self._post(f"/api/v1/cases/{case_id}/rekey", body, ObjectOut)

    def add_action(self, case_id: str, body: dict[str, Any]) -> ActionOut:
        return self._post(f"/api/v1/cases/{case_id}/actions", body, ActionOut)

    def update_action(self, action_id: str, body: dict[str, Any]) -> ActionOut:
        response = self._send("PATCH", f"/api/v1/actions/{action_id}", json=body)
        return _parse(ActionOut.model_validate_json, response.content)

    def actions(self, *, overdue: bool = False) -> list[ActionOut]:
        params = {"overdue": "true"} if overdue else None
        content = self._send("GET", "/api/v1/actions", params=params).content
        return _parse(TypeAdapter(list[ActionOut]).validate_json, content)

    def export_cases(self) -> Iterator[CaseDetail]:
        """Every readable case, fetched a page at a time."""
        after: str | None = None
        while True:
            params: dict[str, str] = {}
            if after is not None:
                params["after"] = after
            if self.page_size is not None:
                params["limit"] = str(min(self.page_size, EXPORT_PAGE))
            content = self._send("GET", "/api/v1/cases/export", params=params).content
            page = _parse(CaseExport.model_validate_json, content)
            yield from page.cases
            if page.next is None:
                return
            after = page.next

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

    def hold(self, case_id: str, *, reason: str) -> HoldOut:
        return self._post(f"/api/v1/cases/{case_id}/hold", {"reason": reason}, HoldOut)

    def release(self, case_id: str) -> None:
        self._send("DELETE", f"/api/v1/cases/{case_id}/hold")

    def retention(self) -> RetentionOverview:
        """Every live case's retention state and every tombstone (auditors)."""
        return self._get("/api/v1/retention", RetentionOverview)

    def audit_checkpoint(self) -> CheckpointOut:
        return self._get("/api/v1/audit/checkpoint", CheckpointOut)

    def audit_checkpoints(self) -> list[CheckpointOut]:
        content = self._send("GET", "/api/v1/audit/checkpoints").content
        return _parse(TypeAdapter(list[CheckpointOut]).validate_json, content)

    def audit_entries(
        self, *, after: int = -1, upto: int | None = None, event: str | None = None
    ) -> Iterator[EntriesOut]:
        """Pages of audit entries after ``after`` (up to ``upto``), in chain order."""
        while True:
            wanted = {"after": after, "upto": upto, "event": event}
            params = {k: v for k, v in wanted.items() if v is not None}
            content = self._send("GET", "/api/v1/audit/entries", params=params).content
            page = _parse(EntriesOut.model_validate_json, content)
            yield page
            if not page.entries:
                return
            after = page.entries[-1].seq
            if upto is not None and after >= upto:
                return

    def countersign(self, seq: int, signature: str) -> CheckpointOut:
        return self._post(
            f"/api/v1/audit/checkpoints/{seq}/countersignatures",
            {"signature": signature},
            CheckpointOut,
        )

    def post_case_object(
        self,
        case_id: str,
        envelope: dict[str, Any],
        *,
        feedback: bool = False,
        uploads: list[str] | None = None,
    ) -> ObjectOut:
        body = {"envelope": envelope, "feedback": feedback, "uploads": uploads or []}
        return self._post(f"/api/v1/cases/{case_id}/objects", body, ObjectOut)

    def start_upload(
        self,
        case_id: str,
        *,
        proof: dict[str, str] | None = None,
        patience: Patience | None = None,
    ) -> UploadOut:
        """Start an upload, resending the same request under one idempotency key while the
        server is unreachable or unavailable (the answer may have been lost after the upload
        was made): however many tries, the server makes one upload."""
        body = {"case_id": case_id, "proof": proof}
        headers = {"Idempotency-Key": secrets.token_urlsafe(16)}
        return (patience or Patience(seconds=15)).run(
            lambda: self._post("/api/v1/uploads", body, UploadOut, headers=headers)
        )

    def upload_status(self, upload_id: str) -> UploadOut:
        return self._get(f"/api/v1/uploads/{upload_id}", UploadOut)

    def put_chunk(self, upload_id: str, index: int, data: bytes) -> UploadOut:
        response = self._send(
            "PUT",
            f"/api/v1/uploads/{upload_id}/chunks/{index}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return _parse(UploadOut.model_validate_json, response.content)

    def finish_upload(self, upload_id: str, chunks: int) -> UploadOut:
        return self._post(f"/api/v1/uploads/{upload_id}/finish", {"chunks": chunks}, UploadOut)

    def get_chunk(self, upload_id: str, index: int) -> bytes:
        return self._send("GET", f"/api/v1/uploads/{upload_id}/chunks/{index}").content

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

    def post_reporter_object(
        self, envelope: dict[str, Any], *, uploads: list[str] | None = None
    ) -> ObjectOut:
        body = {"envelope": envelope, "uploads": uploads or []}
        return self._post("/api/v1/reporter/objects", body, ObjectOut)


def _parse(parser: Callable[[bytes], T], content: bytes) -> T:
    try:
        return parser(content)
    except ValidationError as exc:
        raise errors.ClientError(
            "The server's answer does not follow the SafeVoice protocol; it may be "
            "misconfigured or not a SafeVoice server."
        ) from exc
