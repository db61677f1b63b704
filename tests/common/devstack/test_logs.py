"""How `dandelion up` tells each service to log: a summary on the console (the full log with
--verbose) and the full JSON log in <data dir>/logs/<service>.log."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dandelion_common.cli import main
from dandelion_common.devstack import stack as devstack
from dandelion_common.devstack.stack import Stack, banner
from dandelion_common.settings import ConsoleLog, DevstackSettings, Settings


def logging_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_each_service_summarises_on_the_console_and_logs_in_full_to_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = Stack(DevstackSettings(data_dir=tmp_path))
    settings = logging_of(stack.log_env("worker-search"), monkeypatch).logging
    assert settings.console_log is ConsoleLog.SUMMARY
    assert settings.file == tmp_path.resolve() / "logs" / "worker-search.log"
    assert stack.log_env("api")["DANDELION_LOGGING__FILE"].endswith("/logs/api.log")


def test_verbose_prints_the_full_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = Stack(DevstackSettings(data_dir=tmp_path), verbose=True)
    settings = logging_of(stack.log_env("api"), monkeypatch).logging
    assert settings.console_log is ConsoleLog.TEXT
    assert settings.file == tmp_path.resolve() / "logs" / "api.log"


def test_the_banner_says_where_the_logs_are(tmp_path: Path) -> None:
    text = banner(Stack(DevstackSettings(data_dir=tmp_path)), "k" * 40)
    assert f"Logs:         {tmp_path.resolve() / 'logs'}/<service>.log" in text


def test_up_passes_verbose_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def run(config: DevstackSettings, *, verbose: bool = False) -> int:
        seen.append(verbose)
        return 0

    monkeypatch.setattr(devstack, "run", run)
    assert CliRunner().invoke(main, ["up", "--verbose"]).exit_code == 0
    assert CliRunner().invoke(main, ["up"]).exit_code == 0
    assert seen == [True, False]
