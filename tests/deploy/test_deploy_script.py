"""deploy/k8s/deploy.sh applies the migrations Job, waits for it, and only then the services;
a failed migration leaves the running release alone. Run against a stand-in kubectl that
records its calls (no cluster can run here) but renders with the real one."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from deploy.manifests import K8S, OVERLAYS, Manifests, component, kubectl

FAKE_KUBECTL = r"""#!/usr/bin/env bash
echo "$*" >> "$CALLS"
args=" $* "
case "$args" in
  *" kustomize "*) exec "$REAL_KUBECTL" "$@" ;;
  *" get secret "*) [ "$SECRET_EXISTS" = 1 ] ;;
  *" get job "*) echo "$JOB_STATE" ;;
  *" get deployment "*) printf 'deployment.apps/dandelion-%s\n' api doi-worker ;;
  *) exit 0 ;;
esac
"""


def deploy(tmp_path: Path, overlay: str, *, job: str, secret: bool = True) -> tuple[int, list[str]]:
    fake = tmp_path / "kubectl"
    fake.write_text(FAKE_KUBECTL)
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    env = os.environ | {
        "KUBECTL": str(fake),
        "REAL_KUBECTL": kubectl(),
        "CALLS": str(calls),
        "JOB_STATE": job,
        "SECRET_EXISTS": "1" if secret else "0",
    }
    argv = [str(K8S / "deploy.sh"), overlay]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, calls.read_text().splitlines()


def position(calls: list[str], fragment: str) -> int:
    return next(i for i, call in enumerate(calls) if fragment in call)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_migrations_complete_before_the_services_roll_out(tmp_path: Path, overlay: str) -> None:
    code, calls = deploy(tmp_path, overlay, job="Complete")
    assert code == 0, calls
    ns = "dandelion-dev" if overlay == "dev" else "dandelion"
    first_apply = position(calls, "apply -f")
    assert "--selector app.kubernetes.io/component notin (api,search-api," in calls[first_apply]
    deleted = position(calls, "delete job --selector app.kubernetes.io/component in (migrate,")
    assert deleted < first_apply
    waited = position(calls, f"--namespace {ns} get job dandelion-migrate")
    full_apply = next(
        i for i, c in enumerate(calls) if c.startswith("apply -f") and "--selector" not in c
    )
    assert first_apply < waited < full_apply
    assert position(calls, "rollout status deployment.apps/dandelion-api") > full_apply


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_first_apply_holds_back_every_service_and_the_ingress(
    tmp_path: Path, overlay: str
) -> None:
    """A new Deployment missing from deploy.sh's list would start before its migrations."""
    code, calls = deploy(tmp_path, overlay, job="Complete")
    assert code == 0, calls
    selector = re.search(r"component notin \(([^)]*)\)", calls[position(calls, "apply -f")])
    assert selector is not None
    manifests = Manifests.of(overlay)
    held = {component(o) for o in manifests.kind("Deployment", "Ingress")}
    assert set(selector.group(1).split(",")) == held


def test_a_failed_migration_applies_no_service(tmp_path: Path) -> None:
    code, calls = deploy(tmp_path, "production", job="Failed")
    assert code == 1
    applies = [c for c in calls if c.startswith("apply")]
    assert len(applies) == 1
    assert "--selector" in applies[0]
    assert any("logs job/dandelion-migrate" in c for c in calls)


def test_production_needs_its_secret_first(tmp_path: Path) -> None:
    code, calls = deploy(tmp_path, "production", job="Complete", secret=False)
    assert code == 1
    assert not [c for c in calls if c.startswith("apply")]
