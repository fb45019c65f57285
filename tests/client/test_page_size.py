"""The page size a member's client asks for comes from SAFEVOICE_PAGE_SIZE, within bounds."""

from __future__ import annotations

import pytest

from safevoice.client.state import page_size
from safevoice.errors import ClientError


def test_the_page_size_is_the_servers_unless_set() -> None:
    assert page_size({}) is None
    assert page_size({"SAFEVOICE_PAGE_SIZE": ""}) is None
    assert page_size({"SAFEVOICE_PAGE_SIZE": "25"}) == 25


@pytest.mark.parametrize("value", ["0", "1001", "ten", "-5", "2.5"])
def test_a_page_size_out_of_bounds_is_refused_with_a_sentence(value: str) -> None:
    with pytest.raises(ClientError, match="SAFEVOICE_PAGE_SIZE must be a number from 1 to 1000"):
        page_size({"SAFEVOICE_PAGE_SIZE": value})
