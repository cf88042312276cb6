"""The destination policy: link-local and metadata addresses refused unless allowed, also
when a name resolves to one."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from claimx_worker.http.destinations import GuardedResolver, destination_problem


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("hooks.example.com", None),
        ("127.0.0.1", None),
        ("10.1.2.3", None),
        ("169.254.169.254", "metadata"),
        ("METADATA.google.internal.", "metadata"),
        ("169.254.7.7", "link-local"),
        ("[fe80::1%eth0]", "link-local"),
        ("::ffff:169.254.7.7", "link-local"),
    ],
)
def test_the_default_policy(host: str, problem: str | None) -> None:
    found = destination_problem(host, ())
    assert (found is None) == (problem is None)
    if problem is not None:
        assert problem in (found or "")


def test_an_allow_list_replaces_the_default() -> None:
    allowed = ("hooks.example.com", "*.example.net", "169.254.7.7")
    assert destination_problem("hooks.example.com", allowed) is None
    assert destination_problem("a.b.example.net", allowed) is None
    assert destination_problem("169.254.7.7", allowed) is None
    assert "allowed_destinations" in (destination_problem("example.net.evil.io", allowed) or "")
    assert "allowed_destinations" in (destination_problem("127.0.0.1", allowed) or "")


class _FixedResolver(AbstractResolver):
    def __init__(self, address: str) -> None:
        self._address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host=self._address, port=port, family=family, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


async def test_a_name_resolving_to_a_metadata_address_is_refused() -> None:
    guarded = GuardedResolver((), _FixedResolver("169.254.169.254"))
    with pytest.raises(OSError, match="denied address"):
        await guarded.resolve("innocent.example.com", 80)


async def test_a_name_resolving_to_an_ordinary_address_resolves() -> None:
    guarded = GuardedResolver((), _FixedResolver("93.184.216.34"))
    (result,) = await guarded.resolve("hooks.example.com", 443)
    assert result["host"] == "93.184.216.34"


async def test_a_listed_name_resolves_wherever_it_points() -> None:
    guarded = GuardedResolver(("internal.example.com",), _FixedResolver("169.254.7.7"))
    (result,) = await guarded.resolve("internal.example.com", 80)
    assert result["host"] == "169.254.7.7"
