"""Where outgoing requests may go: plugin-built URLs are checked against a destination policy.

By default every host is allowed except link-local addresses (``169.254.0.0/16``,
``fe80::/10``) and the cloud metadata endpoints (AWS, GCP, Azure, Alibaba), which hold the
machine's credentials. An allow-list (host names, ``*.suffix`` patterns or IP addresses)
replaces that default: then only the listed hosts may be called, link-local ones included when
listed. Names are checked as written and again after DNS resolution (see
:class:`GuardedResolver`), so a name that resolves to a metadata address is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
    }
)
"""Cloud instance metadata endpoints (and Azure's host agent address)."""


def destination_problem(host: str, allowed: Collection[str]) -> str | None:
    """Why ``host`` may not be called under the policy (``allowed`` empty: the default), or
    ``None`` when it may."""
    name = host.lower().rstrip(".").strip("[]")
    if allowed:
        if any(_matches(name, pattern.lower()) for pattern in allowed):
            return None
        return f"host {name} is not in allowed_destinations"
    if name in METADATA_HOSTS:
        return f"host {name} is a cloud metadata address"
    address = _address(name)
    if address is not None and address.is_link_local:
        return f"host {name} is a link-local address"
    return None


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return name == pattern.strip("[]")


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to a destination the policy denies."""

    def __init__(self, allowed: Collection[str], resolver: AbstractResolver | None = None) -> None:
        self._allowed = tuple(allowed)
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``; raises :class:`OSError` when one of them is denied."""
        results = await self._resolver.resolve(host, port, family)
        if not self._allowed:  # a listed host is the operator's choice, wherever it resolves
            for result in results:
                problem = destination_problem(result["host"], ())
                if problem is not None:
                    raise OSError(f"{host} resolves to a denied address: {problem}")
        return results

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._resolver.close()
