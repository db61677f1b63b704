"""Settings come from DANDELION_* variables, grouped by concern, and production is strict."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dandelion_common.settings import Environment, Settings


def test_nested_groups_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANDELION_S3__BUCKET", "archive")
    monkeypatch.setenv("DANDELION_API__PUBLIC_URL", "https://api.example.org/")
    monkeypatch.setenv("DANDELION_POSTGRES__URL", "postgresql://u@db:5432/d")
    settings = Settings()
    assert settings.s3.bucket == "archive"
    assert settings.api.api_url == "https://api.example.org/api"
    assert settings.postgres.url == "postgresql+asyncpg://u@db:5432/d"


def test_production_refuses_placeholder_secrets() -> None:
    with pytest.raises(ValidationError, match="development placeholder"):
        Settings(environment=Environment.PRODUCTION)


def test_production_refuses_doi_minting_without_credentials() -> None:
    s3 = {"access_key_id": "AKIAREAL", "secret_access_key": "a-real-secret"}
    for doi in ({"enabled": True}, {}):  # explicitly on, or left unset
        with pytest.raises(ValidationError, match="DOI minting is not disabled"):
            Settings.model_validate({"environment": "production", "s3": s3, "doi": doi})
    settings = Settings.model_validate(
        {"environment": "production", "s3": s3, "doi": {"enabled": False}}
    )
    assert settings.environment is Environment.PRODUCTION
    assert not settings.doi.minting


def test_doi_minting_follows_the_credentials_unless_set() -> None:
    credentials = {"username": "REPO.ID", "password": "secret"}
    assert Settings.model_validate({"doi": credentials}).doi.minting
    assert not Settings.model_validate({"doi": {}}).doi.minting
    assert not Settings.model_validate({"doi": {**credentials, "enabled": False}}).doi.minting
