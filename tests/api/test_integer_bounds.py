"""Every integer a request carries is bounded and typed: out of range or not an integer is 422.

The test reads the application's OpenAPI schema and, for every integer of every operation (in
the path, the query or anywhere in the JSON body), sends an otherwise well-formed request with
that one integer replaced by 2^31, 2^63, one past either bound, -1 where negative is invalid,
``true``, ``"3"`` and ``3.0``. Each must be answered 422 naming that field, never a 2xx and never
a 5xx (2^63 used to be a 500 on SQLite, 2^31 a 503 on PostgreSQL). The largest and smallest
allowed values must not be a 5xx either. Routes left out of the schema (the reporter pages)
are walked too: one that declares an integer the schema does not show fails the test.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from safevoice.crypto.encoding import b64e
from safevoice.crypto.manifest import Manifest
from tests.api.test_login import login
from tests.dialogue.test_dialogue_api import new_case, reporter_token
from tests.support.world import World

INT_MAX = 2**31 - 1


class Spec:
    """The OpenAPI document with ``$ref`` resolved on demand."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.document["components"]["schemas"][name]
        return schema

    def options(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The non-null alternatives of a schema (``X | None`` is ``anyOf [X, null]``)."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            found = [self.resolve(s) for s in schema["anyOf"]]
            return [s for s in found if s.get("type") != "null"]
        return [schema]

    def example(self, schema: dict[str, Any]) -> Any:
        """A value that passes the schema's type checks (its meaning may still be refused)."""
        schema = self.options(schema)[0]
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            return {
                name: self.example(sub)
                for name, sub in schema.get("properties", {}).items()
                if name in schema.get("required", [])
            }
        if kind == "array":
            return [self.example(schema["items"]) for _ in range(schema.get("minItems", 0))]
        if kind == "integer":
            return int(schema.get("minimum", 0))
        if kind == "boolean":
            return False
        if kind == "string":
            if schema.get("format") == "date":
                return "2026-01-05"
            return "A" * max(int(schema.get("minLength", 1)), 1)
        raise AssertionError(f"no example for {schema}")

    def integers(self, schema: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
        """Every integer inside ``schema``, as (dotted location, its schema), required or not."""
        found: list[tuple[str, dict[str, Any]]] = []
        for option in self.options(schema):
            if option.get("type") == "integer":
                found.append((where, option))
            for name, sub in option.get("properties", {}).items():
                found.extend(self.integers(sub, f"{where}.{name}"))
        return found


def set_at(body: Any, path: list[str], value: Any) -> Any:
    """``body`` with the member at ``path`` set (missing objects on the way are created)."""
    copy = json.loads(json.dumps(body))
    node = copy
    for name in path[:-1]:
        node = node.setdefault(name, {})
    node[path[-1]] = value
    return copy


def bad_values(schema: dict[str, Any], *, in_json: bool) -> list[Any]:
    low, high = int(schema.get("minimum", -(2**31))), int(schema.get("maximum", INT_MAX))
    values: list[Any] = [2**31, 2**63, high + 1, low - 1, -(2**63) - 1]
    if low >= 0:
        values.append(-1)
    if in_json:
        return [*values, True, "3", 3.0]
    return [*(str(v) for v in values), "true", '"3"', "3.0", "+3", "03", "1_0"]


def every_integer(spec: Spec) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, path template, where, name, schema) for every integer the API accepts."""
    found = []
    for path, operations in spec.document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for where, schema in spec.integers(parameter["schema"], parameter["in"]):
                    found.append((method.upper(), path, where, parameter["name"], schema))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                for where, schema in spec.integers(body["schema"], "body"):
                    found.append((method.upper(), path, where, "", schema))
    return found


@pytest.fixture
def spec(client: httpx.Client) -> Spec:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return Spec(response.json())


def test_every_integer_of_the_api_is_bounded_in_its_schema(spec: Spec) -> None:
    integers = every_integer(spec)

    assert len(integers) >= 30  # envelopes in seven bodies, uploads, audit, export
    for method, path, where, name, schema in integers:
        assert "minimum" in schema, f"{method} {path} {where} {name}"
        assert "maximum" in schema, f"{method} {path} {where} {name}"
        assert -(2**31) <= schema["minimum"] <= schema["maximum"] <= INT_MAX


def test_no_route_outside_the_schema_takes_an_integer(client: httpx.Client, spec: Spec) -> None:
    app = client._transport._transport.app  # type: ignore[attr-defined]  # the ASGI app in use
    in_schema = {(m, p) for m, p, *_ in every_integer(spec)}
    pending, routes = list(app.routes), []
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)
        if included is not None:  # a router added with include_router
            pending.extend(included.routes)
        elif isinstance(route, APIRoute):
            routes.append(route)
    assert len(routes) > 40

    for route in routes:
        for param in _parameters(route.dependant):
            schema = json.dumps(TypeAdapter(param.field_info.annotation).json_schema())
            if '"integer"' in schema:
                for method in route.methods or ():
                    assert (method, route.path) in in_schema, f"{method} {route.path} {param.name}"


@pytest.fixture
def ids(client: httpx.Client, manifest: Manifest, world: World) -> dict[str, str]:
    """Real ids and sessions, so that the one wrong integer is the only thing wrong."""
    sub = new_case(client, manifest)
    case_id = b64e(sub.case.case_id)
    member = login(client, world.members["alice"], manifest)
    upload = client.post(
        "/api/v1/uploads", json={"case_id": case_id}, headers={"Authorization": f"Bearer {member}"}
    )
    assert upload.status_code == 201, upload.text
    return {
        "case_id": case_id,
        "upload_id": upload.json()["id"],
        "action_id": "A" * 22,
        "member": member,
        "auditor": login(client, world.auditor, manifest, role="auditor"),
        "reporter": reporter_token(client, manifest, sub.reporter),
    }


def session_for(path: str, ids: dict[str, str]) -> str:
    if path.startswith("/api/v1/reporter/"):
        return ids["reporter"]
    if path.endswith("/countersignatures"):
        return ids["auditor"]
    return ids["member"]


def send(
    client: httpx.Client,
    spec: Spec,
    ids: dict[str, str],
    target: tuple[str, str, str, str, dict[str, Any]],
    value: Any,
) -> httpx.Response:
    """The operation of ``target``, well formed but for ``value`` in the target's place."""
    method, template, where, name, _schema = target
    operation = spec.document["paths"][template][method.lower()]
    path_values = {p: ids.get(p, "0") for p in _path_names(template)}
    params: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {session_for(template, ids)}"}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter.get("required"):
            headers[parameter["name"]] = str(spec.example(parameter["schema"]))
        elif parameter["in"] == "path" and parameter["name"] not in ids:
            path_values[parameter["name"]] = str(spec.example(parameter["schema"]))
    if where == "path":
        path_values[name] = value
    elif where == "query":
        params[name] = value
    kwargs: dict[str, Any] = {"params": params, "headers": headers}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        example = spec.example(body["schema"])
        kwargs["json"] = set_at(example, where.split(".")[1:], value) if not name else example
    elif method == "PUT":
        kwargs["content"] = b"x"  # a chunk
    return client.request(method, template.format(**path_values), **kwargs)


def test_every_integer_refuses_what_is_out_of_range_or_not_an_integer(
    client: httpx.Client, spec: Spec, ids: dict[str, str]
) -> None:
    checked, problems = 0, []
    for target in every_integer(spec):
        method, template, where, name, schema = target
        location = f"{where}.{name}" if name else where
        in_json = where.startswith("body")
        for value in bad_values(schema, in_json=in_json):
            answer = send(client, spec, ids, target, value)
            what = f"{method} {template} {location} = {value!r}: {answer.status_code} {answer.text}"
            checked += 1
            if answer.status_code != 422:
                problems.append(what)
            elif not any(
                f["location"].startswith(location) for f in answer.json()["error"]["fields"]
            ):
                problems.append(f"{what} (another field was refused)")
        for value in (int(schema.get("minimum", -(2**31))), int(schema.get("maximum", INT_MAX))):
            answer = send(client, spec, ids, target, value if in_json else str(value))
            if answer.status_code >= 500:
                problems.append(f"{method} {template} {location} = {value}: {answer.status_code}")

    assert problems == []
    assert checked > 300


def _parameters(dependant: Dependant) -> list[Any]:
    """Every parameter a route reads, its dependencies' included."""
    found: list[Any] = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.body_params,
    ]
    for sub in dependant.dependencies:
        found.extend(_parameters(sub))
    return found


def _path_names(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]
