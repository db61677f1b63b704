"""Settings come from DANDELION_* variables, grouped by concern, and production is strict."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dandelion_common.settings import Environment, ProviderKind, Settings, SignupPolicy


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


OIDC = {"name": "keycloak", "kind": "oidc", "issuer": "https://sso.example.org/realms/lab"}
REAL_S3 = {"access_key_id": "AKIAREAL", "secret_access_key": "a-real-secret"}


def test_auth_defaults() -> None:
    auth = Settings().auth
    assert auth.session_idle_minutes == 7 * 24 * 60
    assert auth.session_absolute_days == 30
    assert auth.signup_policy is SignupPolicy.APPROVAL
    assert auth.auto_approve_email_suffixes == []
    assert auth.providers == []


def test_providers_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DANDELION_AUTH__PROVIDERS",
        '[{"name": "keycloak", "issuer": "https://sso.example.org", "client_id": "archive",'
        ' "client_secret": "s3cret"}, {"name": "github", "kind": "github", "client_id": "gh",'
        ' "scopes": ["read:user", "user:email"]}]',
    )
    monkeypatch.setenv("DANDELION_AUTH__SIGNUP_POLICY", "approval_with_domains")
    auth = Settings().auth
    assert auth.signup_policy is SignupPolicy.APPROVAL_WITH_DOMAINS
    keycloak, github = auth.providers
    assert (keycloak.kind, keycloak.issuer, keycloak.scopes) == (
        ProviderKind.OIDC,
        "https://sso.example.org",
        ["openid", "email", "profile"],
    )
    assert keycloak.client_secret is not None
    assert keycloak.client_secret.get_secret_value() == "s3cret"
    assert (github.kind, github.client_secret, github.scopes) == (
        ProviderKind.GITHUB,
        None,
        ["read:user", "user:email"],
    )


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        ([{**OIDC, "issuer": None, "client_id": "a"}], "needs an issuer"),
        ([{**OIDC, "client_id": "a"}, {**OIDC, "client_id": "b"}], "must be unique"),
        ([{**OIDC, "name": "Not A Name", "client_id": "a"}], "name"),
        ([{**OIDC, "client_id": ""}], "client_id"),
    ],
    ids=["oidc-without-issuer", "duplicate-names", "bad-name", "no-client-id"],
)
def test_bad_providers_are_refused(providers: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"auth": {"providers": providers}})


@pytest.mark.parametrize("secret", [None, ""], ids=["missing", "empty"])
def test_production_refuses_a_provider_without_a_client_secret(secret: str | None) -> None:
    provider = {**OIDC, "client_id": "archive", "client_secret": secret}
    settings = {"s3": REAL_S3, "doi": {"enabled": False}, "auth": {"providers": [provider]}}
    assert Settings.model_validate(settings).auth.providers[0].name == "keycloak"  # dev: fine
    with pytest.raises(ValidationError, match="'keycloak' has no client secret"):
        Settings.model_validate({**settings, "environment": "production"})
    provider["client_secret"] = "s3cret"
    assert Settings.model_validate({**settings, "environment": "production"}).auth.providers
