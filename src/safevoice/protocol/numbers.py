"""Integers on the wire: what a request may send where the protocol says "integer".

In a JSON body an integer is a JSON integer: ``true``, ``"3"`` and ``3.0`` are refused, not
converted. In a path or a query string it is a canonical decimal (an optional ``-``, then digits
without a leading zero): ``3.0``, ``+3``, ``03``, ``1_000`` and ``true`` are refused. Every
integer is bounded, by the rule of its field and in any case by what a PostgreSQL ``integer``
column holds, so that an out-of-range value is a 422 naming the field and never reaches the
database (where it would fail as a 500 on SQLite or a 503 on PostgreSQL).

Invariant: every integer of a request body, path or query is declared with one of these types
(tests/api/test_integer_bounds.py walks the application and sends each one out-of-range values).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, Strict, ValidatorFunctionWrapHandler, WrapValidator

# The largest value a PostgreSQL ``integer`` column (and SQLite's integer affinity, which is
# wider) stores; counters, sequence numbers and epochs never come near it.
INT_MAX = 2**31 - 1

_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")


def _canonical_decimal(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Pydantic would otherwise read "3.0", "+3", " 3 " and "1_000" as 3 or 1000: one value,
    # one spelling, as for base64url.
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise ValueError("must be an integer written in decimal digits")
    return handler(value)


DECIMAL = WrapValidator(_canonical_decimal)
"""Put after a ``Field(ge=…, le=…)`` to make a path or query integer, as in ``ParamCount``."""

Count = Annotated[int, Strict(), Field(ge=0, le=INT_MAX)]
"""A non-negative integer in a JSON body (a sequence number, an epoch, a count). Narrow it
with ``Annotated[Count, Field(ge=…, le=…)]``."""

# For paths and queries the bounds sit inside the type, before the validator: FastAPI's own
# ``Query(ge=…)`` would be applied after the wrap validator and then be missing from the
# OpenAPI schema. A parameter with other bounds is written
# ``Annotated[int, Field(ge=…, le=…), DECIMAL, Query()]``.
ParamCount = Annotated[int, Field(ge=0, le=INT_MAX), DECIMAL]
"""A non-negative integer in a path or a query string."""
