"""docs/operations.md: its configuration reference is the one generated from the settings
models, and the generator reports what settings.py says."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from deploy.manifests import ROOT
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dandelion_common.cli import main
from dandelion_common.config_reference import (
    current_section,
    field_sources,
    render,
    replace_section,
    variables,
)
from dandelion_common.settings import Settings

GUIDE = ROOT / "docs" / "operations.md"


class Cache(BaseModel):
    """Where answers are kept."""

    # How long an answer stays fresh,
    # in seconds.
    ttl_seconds: int = Field(60, ge=1, le=3600)
    password: SecretStr = SecretStr("placeholder")  # only for the example
    hosts: list[str] = []


class Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", env_nested_delimiter="__")

    debug: bool = False
    cache: Cache = Cache()


def test_the_guide_has_the_current_configuration_reference() -> None:
    assert current_section(GUIDE.read_text()) == render(), (
        "docs/operations.md is out of date: run `make docs`"
    )


def test_every_setting_is_in_the_reference_once() -> None:
    names = [v.name for v in variables()]
    assert len(names) == len(set(names))
    section = render()
    for name in names:
        assert section.count(f"`{name}`") == 1, name
    leaves = sum(
        len(type(group).model_fields) if isinstance(group, BaseModel) else 1
        for group in (getattr(Settings(), field) for field in Settings.model_fields)
    )
    assert len(names) == leaves


def test_descriptions_come_from_the_comments_of_the_fields() -> None:
    sources = field_sources(Cache)
    assert sources["ttl_seconds"].comment == "How long an answer stays fresh, in seconds."
    assert sources["password"].comment == "only for the example"
    assert sources["hosts"].comment == ""
    assert sources["hosts"].annotation == "list[str]"


def test_variables_are_flattened_with_their_types_defaults_and_bounds() -> None:
    found = {v.name: v for v in variables(Example, "EXAMPLE_")}
    assert list(found) == [
        "EXAMPLE_DEBUG",
        "EXAMPLE_CACHE__TTL_SECONDS",
        "EXAMPLE_CACHE__PASSWORD",
        "EXAMPLE_CACHE__HOSTS",
    ]
    ttl = found["EXAMPLE_CACHE__TTL_SECONDS"]
    assert (ttl.type, ttl.default, ttl.allowed) == ("int", "`60`", "≥ 1, ≤ 3600")
    assert found["EXAMPLE_CACHE__PASSWORD"].secret
    assert found["EXAMPLE_CACHE__PASSWORD"].default == "a development placeholder"
    assert not found["EXAMPLE_DEBUG"].secret
    assert found["EXAMPLE_CACHE__HOSTS"].default == "`[]`"


def test_the_cli_rewrites_only_the_generated_section(tmp_path: Path) -> None:
    stale = replace_section(
        GUIDE.read_text(), current_section(GUIDE.read_text()).replace("≥", ">=")
    )
    doc = tmp_path / "operations.md"
    doc.write_text("# Before\n\n" + stale + "\n# After\n")
    result = CliRunner().invoke(main, ["config-reference", "--write", str(doc)])
    assert result.exit_code == 0, result.output
    text = doc.read_text()
    assert current_section(text) == render()
    assert text.startswith("# Before\n")
    assert text.endswith("\n# After\n")


def test_the_readme_links_the_operator_guide() -> None:
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
