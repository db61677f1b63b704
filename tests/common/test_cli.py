"""`dandelion` composed from the services' entry points: every command the local stack runs is
there, each worker registers its own queue, and a bad registration fails loudly.

(The service commands are tested beside their services: tests/api, tests/ingest,
tests/search. The Deployments' commands are checked in tests/deploy/test_policy.py.)
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points

import click
import pytest
from click.testing import CliRunner

from dandelion_common.cli import COMMANDS_GROUP, WORKERS, WORKERS_GROUP, add_service_commands, main
from dandelion_common.devstack.stack import SERVICES
from dandelion_common.jobs.contracts import Queue


def test_every_service_registers_its_commands() -> None:
    registered = {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)}

    assert {"api", "users", "tokens", "search-api", "search", "gc"} <= set(registered)
    for name, ep in registered.items():
        assert main.commands[name] is ep.load(), name


@pytest.mark.parametrize("service", SERVICES)
def test_the_local_stack_runs_only_registered_commands(service: str) -> None:
    command, *arguments = service.split()

    assert command in main.commands
    if command == "worker":
        assert arguments[0] in WORKERS


def test_every_queue_has_a_worker_that_serves_it() -> None:
    assert set(WORKERS) == {queue.value for queue in Queue}
    for name, ep in WORKERS.items():
        assert ep.group == WORKERS_GROUP
        module = ep.load()
        assert Queue(name) is module.QUEUE
        assert module.FUNCTIONS, name


def test_the_worker_commands_offer_the_registered_queues() -> None:
    for command in ("worker", "worker-health"):
        result = CliRunner().invoke(main, [command, "--help"])

        assert result.exit_code == 0, result.output
        assert "{doi|ingest|search}" in result.output
        assert CliRunner().invoke(main, [command, "genotypes"]).exit_code == 2


def _entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=COMMANDS_GROUP)


def test_a_registered_command_is_added_under_its_entry_point_name() -> None:
    group = click.Group()

    add_service_commands(group, [_entry_point("again", "dandelion_common.cli:migrate")])

    assert group.commands["again"] is main.commands["migrate"]


def test_a_command_name_registered_twice_is_refused() -> None:
    group = click.Group(commands={"migrate": main.commands["migrate"]})

    with pytest.raises(RuntimeError, match="`migrate`, which is already taken"):
        add_service_commands(group, [_entry_point("migrate", "dandelion_common.cli:up")])


def test_a_registration_that_is_not_a_command_is_refused() -> None:
    with pytest.raises(TypeError, match="is not a click command"):
        add_service_commands(click.Group(), [_entry_point("x", "dandelion_common.cli:WORKERS")])


def test_python_dash_m_runs_the_composed_command() -> None:
    """The local stack and the test harness start services as `python -m dandelion_common.cli`."""
    result = subprocess.run(
        [sys.executable, "-m", "dandelion_common.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    for name in ("api", "search-api", "gc", "users", "tokens", "search", "worker"):
        assert f"  {name} " in result.stdout, name
