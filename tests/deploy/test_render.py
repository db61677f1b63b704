"""Every overlay renders, every object is valid for the Kubernetes versions we support (strict:
unknown fields are errors), KEDA's objects use only KEDA's fields, and the YAML is lint-clean."""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from deploy.manifests import K8S, OVERLAYS, Manifests, render
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig  # type: ignore[import-untyped]

# The oldest release we support (`lifecycle.preStop.sleep` is on by default from 1.30) and
# the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
# KEDA's CRDs have no bundled schema; these are the fields of keda.sh/v1alpha1 we may use.
KEDA_FIELDS: dict[str, set[str]] = {
    "ScaledObject": {
        "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
        "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced",
        "triggers",
    },
    "TriggerAuthentication": {
        "secretTargetRef", "env", "podIdentity", "hashiCorpVault", "azureKeyVault",
    },
}  # fmt: skip
REDIS_TRIGGER_FIELDS = {
    "address", "addressFromEnv", "host", "port", "hostFromEnv", "portFromEnv", "databaseIndex",
    "listName", "listLength", "activationListLength", "enableTLS", "unsafeSsl", "username",
    "usernameFromEnv", "passwordFromEnv",
}  # fmt: skip


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_passes_strict_schema_validation(manifests: Manifests, version: str) -> None:
    validated = 0
    for obj in manifests.objects:
        if obj["apiVersion"].startswith("keda.sh/"):
            continue  # no schema bundled: test_keda_objects_use_only_keda_fields
        # Raises on the first error of an object; an unknown kind is an error too.
        kubernetes_validate.validate(obj, version, strict=True)
        validated += 1
    assert validated == len(
        [o for o in manifests.objects if not o["apiVersion"].startswith("keda")]
    )


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The check above can fail: a typo the API server would drop silently is an error."""
    deployment: dict[str, Any] = next(
        o for o in render(K8S / "overlays" / OVERLAYS[0]) if o["kind"] == "Deployment"
    )
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_keda_objects_use_only_keda_fields(manifests: Manifests) -> None:
    for obj in manifests.objects:
        if not obj["apiVersion"].startswith("keda.sh/"):
            continue
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        assert set(obj["spec"]) <= KEDA_FIELDS[obj["kind"]], obj["metadata"]["name"]
        for trigger in obj["spec"].get("triggers", []):
            assert trigger["type"] == "redis"
            assert set(trigger["metadata"]) <= REDIS_TRIGGER_FIELDS
            assert set(trigger) <= {"type", "metadata", "authenticationRef", "name", "metricType"}


def test_the_base_renders_on_its_own() -> None:
    kinds = {o["kind"] for o in render(K8S / "base")}
    assert {"Deployment", "Service", "Job", "NetworkPolicy", "ScaledObject"} <= kinds


def test_yaml_is_lint_clean() -> None:
    config = YamlLintConfig(file=str(K8S / ".yamllint.yaml"))
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) > 10
    problems = [
        f"{path.relative_to(K8S)}:{p.line}: {p.desc}"
        for path in files
        for p in linter.run(path.read_text(), config, str(path))
    ]
    assert problems == []
