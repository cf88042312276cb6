"""The testing kit's commands (the ClaimX API simulator, the webhook receiver, the test broker)
explain every option in ``--help``."""

from __future__ import annotations

import argparse

import pytest

from claimx_worker.testing import claimx_api, webhooks
from claimx_worker.testing.kafka import cli as kafka_cli


@pytest.mark.parametrize(
    ("parser", "summary"),
    [
        (claimx_api.argument_parser(), "Serve the ClaimX API simulator"),
        (webhooks.argument_parser(), "Serve a webhook receiver"),
        (kafka_cli.argument_parser(), "Start a local Apache Kafka broker"),
    ],
)
def test_help_describes_the_command_and_every_option(
    parser: argparse.ArgumentParser, summary: str
) -> None:
    assert (parser.description or "").startswith(summary)
    assert parser.epilog, "an example or what it prints"
    undocumented = [a.option_strings for a in parser._actions if not a.help]
    assert undocumented == []
