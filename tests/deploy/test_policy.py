"""The rules operators expect of the rendered manifests (docs/operations.md), one test per rule,
checked for every overlay."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
import yaml
from deploy.manifests import (
    APP_COMPONENTS,
    K8S,
    Manifests,
    Obj,
    component,
    containers,
    named_ports,
    pod_labels,
    pod_spec,
    pod_template,
    runs_our_image,
)

from dandelion_common.cli import WORKERS, main
from dandelion_common.commands import UVICORN_DRAIN_SECONDS
from dandelion_common.config_reference import variables
from dandelion_common.jobs.contracts import Queue
from dandelion_common.settings import Settings, WorkerSettings

RECOMMENDED_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
}
STABLE_SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/component"}
WRITABLE_ROOT = "dandelion.example.org/writable-root"
HTTP_COMPONENTS = {"api", "search-api", "web"}
WORKER_COMPONENTS = {f"{q.value}-worker" for q in Queue}
# Margins past the drain times: closing pools, recording arq's results.
HTTP_MARGIN_SECONDS, WORKER_MARGIN_SECONDS = 5, 10


def deployments(m: Manifests, components: set[str] | None = None) -> list[Obj]:
    return [d for d in m.kind("Deployment") if components is None or component(d) in components]


def container_of(workload: Obj) -> Obj:
    (main_container,) = pod_spec(workload)["containers"]
    assert isinstance(main_container, dict)
    return main_container


# --- pods --------------------------------------------------------------------------------


def test_pods_run_as_non_root_with_seccomp_and_no_token(manifests: Manifests) -> None:
    for w in manifests.workloads():
        spec, name = pod_spec(w), w["metadata"]["name"]
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, name
        assert security["runAsUser"] > 0, name
        assert security["runAsGroup"] > 0, name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec), name


def test_containers_drop_capabilities_and_keep_a_read_only_root(manifests: Manifests) -> None:
    for w in manifests.workloads():
        reason = pod_template(w)["metadata"].get("annotations", {}).get(WRITABLE_ROOT)
        for c in containers(w):
            security, where = c["securityContext"], (w["metadata"]["name"], c["name"])
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert not security.get("privileged"), where
            if security["readOnlyRootFilesystem"] is not True:
                # Only a third-party server of the dev overlay, with its reason written down.
                assert not runs_our_image(c), where
                assert manifests.overlay == "dev", where
                assert reason, where


def test_our_containers_write_only_to_a_bounded_tmp(manifests: Manifests) -> None:
    for w in manifests.workloads():
        volumes = {v["name"]: v for v in pod_spec(w).get("volumes", [])}
        for c in filter(runs_our_image, containers(w)):
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert set(mounts) == {"/tmp"}, w["metadata"]["name"]  # TMPDIR and HOME of the image
            assert volumes[mounts["/tmp"]]["emptyDir"]["sizeLimit"], w["metadata"]["name"]


def test_every_container_requests_cpu_and_memory_and_limits_memory(manifests: Manifests) -> None:
    for w in manifests.workloads():
        for c in containers(w):
            requests, limits = c["resources"]["requests"], c["resources"]["limits"]
            assert {"cpu", "memory"} <= set(requests), (w["metadata"]["name"], c["name"])
            assert _bytes(limits["memory"]) >= _bytes(requests["memory"]), w["metadata"]["name"]


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity)


def test_images_are_pinned_and_one_release_runs_everywhere(manifests: Manifests) -> None:
    ours = set()
    for w in manifests.workloads():
        for c in containers(w):
            image = c["image"]
            name_and_tag = image.rsplit("/", 1)[-1]
            assert "@sha256:" in image or ":" in name_and_tag, image
            assert not name_and_tag.endswith(":latest"), image
            if runs_our_image(c):
                ours.add(image)
    assert len(ours) == 1, ours  # services and migrations of one release share the image


def test_commands_exist_in_the_cli(manifests: Manifests) -> None:
    for w in manifests.workloads():
        for c in filter(runs_our_image, containers(w)):
            command, *arguments = c["args"]
            assert command in main.commands, c["args"]
            if command == "worker":
                assert arguments == [component(w).removesuffix("-worker")]
                assert arguments[0] in WORKERS


def test_labels_are_the_recommended_ones_everywhere(manifests: Manifests) -> None:
    for obj in manifests.objects:
        labels = obj["metadata"].get("labels", {})
        assert set(labels) >= RECOMMENDED_LABELS, (obj["kind"], obj["metadata"]["name"])
        assert labels["app.kubernetes.io/part-of"] == "dandelion"
    for w in manifests.workloads():
        assert set(pod_labels(w)) >= RECOMMENDED_LABELS, w["metadata"]["name"]


def test_selectors_use_only_stable_labels(manifests: Manifests) -> None:
    for w in manifests.kind("Deployment", "StatefulSet"):
        assert set(w["spec"]["selector"]["matchLabels"]) == STABLE_SELECTOR_KEYS
    for svc in manifests.kind("Service"):
        assert set(svc["spec"]["selector"]) == STABLE_SELECTOR_KEYS


def test_each_component_has_its_own_service_account(manifests: Manifests) -> None:
    accounts = {a["metadata"]["name"]: a for a in manifests.kind("ServiceAccount")}
    assert accounts
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    for w in manifests.workloads():
        if component(w) in APP_COMPONENTS - {"bootstrap"}:
            assert pod_spec(w)["serviceAccountName"] == f"dandelion-{component(w)}"
        if "serviceAccountName" in pod_spec(w):
            assert pod_spec(w)["serviceAccountName"] in accounts


# --- probes and shutdown -----------------------------------------------------------------


def test_http_services_probe_health_and_readiness(manifests: Manifests) -> None:
    for d in deployments(manifests, HTTP_COMPONENTS):
        c = container_of(d)
        ports = named_ports(d)
        for probe, path in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                            ("readinessProbe", "/readyz")]:  # fmt: skip
            assert c[probe]["httpGet"]["path"] == path, (d["metadata"]["name"], probe)
            assert c[probe]["httpGet"]["port"] in ports


def test_workers_probe_their_own_health_key(manifests: Manifests) -> None:
    for d in deployments(manifests, WORKER_COMPONENTS):
        c, queue = container_of(d), component(d).removesuffix("-worker")
        for probe in ("startupProbe", "livenessProbe"):
            assert c[probe]["exec"]["command"] == ["dandelion", "worker-health", queue]
            # A probe run must fit in the period before the next one.
            assert c[probe]["timeoutSeconds"] < c[probe]["periodSeconds"]
        assert "readinessProbe" not in c  # serves no traffic


def test_http_grace_period_covers_the_prestop_sleep_and_uvicorns_drain(
    manifests: Manifests,
) -> None:
    for d in deployments(manifests, HTTP_COMPONENTS):
        sleep = container_of(d)["lifecycle"]["preStop"]["sleep"]["seconds"]
        needed = sleep + UVICORN_DRAIN_SECONDS + HTTP_MARGIN_SECONDS
        assert pod_spec(d)["terminationGracePeriodSeconds"] >= needed, d["metadata"]["name"]


def test_worker_grace_period_covers_the_job_completion_wait(manifests: Manifests) -> None:
    for d in deployments(manifests, WORKER_COMPONENTS):
        worker = worker_settings(manifests.env(d, container_of(d)))
        needed = worker.job_completion_wait_seconds + WORKER_MARGIN_SECONDS
        assert pod_spec(d)["terminationGracePeriodSeconds"] >= needed, d["metadata"]["name"]
        assert worker.job_completion_wait_seconds > 0  # SIGTERM lets running jobs finish
        assert worker.metrics_port in named_ports(d).values()


def worker_settings(env: dict[str, str]) -> WorkerSettings:
    prefix = "DANDELION_WORKER__"
    fields = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    return WorkerSettings.model_validate(fields)


def test_rollouts_never_drop_below_the_wanted_replicas(manifests: Manifests) -> None:
    for d in deployments(manifests):
        assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        spread = pod_spec(d)["topologySpreadConstraints"]
        assert {t["topologyKey"] for t in spread} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
        assert all(
            t["labelSelector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
            for t in spread
        )


# --- availability and scaling ------------------------------------------------------------


def test_every_deployment_has_a_pdb_that_still_allows_a_drain(manifests: Manifests) -> None:
    budgets = manifests.kind("PodDisruptionBudget")
    for d in deployments(manifests):
        mine = [b for b in budgets if b["spec"]["selector"] == d["spec"]["selector"]]
        assert len(mine) == 1, d["metadata"]["name"]
        # maxUnavailable ≥ 1 never blocks a node drain, whatever the replica count.
        assert mine[0]["spec"].get("maxUnavailable", 0) >= 1, d["metadata"]["name"]


def test_http_services_scale_with_an_hpa_that_owns_their_replicas(manifests: Manifests) -> None:
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in manifests.kind("HorizontalPodAutoscaler")
    }
    for d in deployments(manifests, HTTP_COMPONENTS):
        hpa = hpas[d["metadata"]["name"]]
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert "replicas" not in d["spec"]  # an applied count would reset the HPA's
        if manifests.overlay == "production":
            assert hpa["spec"]["minReplicas"] >= 2
    assert set(hpas) <= {d["metadata"]["name"] for d in deployments(manifests)}


def test_the_ingest_worker_scales_on_its_queue(manifests: Manifests) -> None:
    (ingest,) = deployments(manifests, {"ingest-worker"})
    scaled = manifests.kind("ScaledObject")
    if manifests.overlay == "dev":  # no KEDA needed to try it out
        assert scaled == []
        assert ingest["spec"]["replicas"] == 1
        return
    (scaler,) = scaled
    assert scaler["spec"]["scaleTargetRef"]["name"] == ingest["metadata"]["name"]
    assert "replicas" not in ingest["spec"]
    assert scaler["spec"]["minReplicaCount"] >= 1
    assert scaler["spec"]["fallback"]["replicas"] >= 1
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in manifests.kind("HorizontalPodAutoscaler")
    }
    assert ingest["metadata"]["name"] not in hpa_targets  # KEDA makes its own HPA
    (trigger,) = scaler["spec"]["triggers"]
    assert trigger["metadata"]["listName"] == Queue.INGEST.redis_name
    assert int(trigger["metadata"]["listLength"]) >= 1


def test_the_scaler_reads_the_redis_the_workers_use(manifests: Manifests) -> None:
    for scaler in manifests.kind("ScaledObject"):
        metadata = scaler["spec"]["triggers"][0]["metadata"]
        redis_url = manifests.configmap_data().get("DANDELION_REDIS__URL")
        if redis_url is not None:
            url = urlsplit(redis_url)
            assert metadata["address"] == f"{url.hostname}:{url.port or 6379}"
            assert metadata["databaseIndex"] == (url.path.strip("/") or "0")
            continue
        # The URL (with its password) is in the Secret: KEDA reads the same Secret.
        auth = manifests.get(
            "TriggerAuthentication", scaler["spec"]["triggers"][0]["authenticationRef"]["name"]
        )
        assert auth is not None
        keys = {(r["name"], r["parameter"]): r["key"] for r in auth["spec"]["secretTargetRef"]}
        assert set(keys) == {("dandelion-secrets", "address"), ("dandelion-secrets", "password")}
        assert set(keys.values()) <= set(secret_template()["stringData"])


# --- config and secrets ------------------------------------------------------------------


def secret_template() -> Obj:
    template: Obj = yaml.safe_load((K8S / "base" / "secret-template.yaml").read_text())
    return template


def test_config_holds_only_real_settings_and_no_secrets(manifests: Manifests) -> None:
    known = {v.name: v for v in variables()}
    for key, value in manifests.configmap_data().items():
        if key.startswith("DANDELION_"):
            assert key in known, key  # a misspelt variable would be ignored silently
            assert not known[key].secret, key
        assert urlsplit(value).password is None, key  # no credentials inside URLs either


def test_the_secret_template_names_every_secret_and_holds_no_value() -> None:
    template = secret_template()["stringData"]
    secrets = {v.name for v in variables() if v.secret}
    assert secrets <= set(template)
    assert set(template) - {v.name for v in variables()} <= {
        "KEDA_REDIS_ADDRESS",
        "KEDA_REDIS_PASSWORD",
    }
    assert set(template.values()) == {""}


def test_the_configuration_is_valid_for_the_settings(
    manifests: Manifests, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a pod would read parses, production rules included (secrets: stand-ins)."""
    (api,) = deployments(manifests, {"api"})
    env = manifests.env(api, container_of(api))
    if manifests.get("Secret", "dandelion-secrets") is None and not _rendered_secret(manifests):
        env |= {k: "stand-in-" + k.lower() for k in secret_template()["stringData"]}
        env["DANDELION_POSTGRES__URL"] = "postgresql://u:p@db:5432/dandelion"
        env["DANDELION_REDIS__URL"] = "rediss://:p@redis:6379/0"
        env["DANDELION_OPENSEARCH__URL"] = "https://u:p@search:443"
    for key in [k for k in os.environ if k.startswith("DANDELION_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.api.host == settings.search_api.host == settings.web.host == "0.0.0.0"
    assert settings.logging.json_format is True


def _rendered_secret(manifests: Manifests) -> bool:
    return any(
        s["metadata"]["name"].startswith("dandelion-secrets") for s in manifests.kind("Secret")
    )


def test_env_sources_exist(manifests: Manifests) -> None:
    for w in manifests.workloads():
        for c in filter(runs_our_image, containers(w)):
            for source in c["envFrom"]:
                if "configMapRef" in source:
                    assert manifests.get("ConfigMap", source["configMapRef"]["name"]) is not None
                else:
                    name = source["secretRef"]["name"]
                    # Production's Secret is made outside the manifests (secret-template.yaml).
                    assert manifests.get("Secret", name) is not None or (
                        manifests.overlay == "production" and name == "dandelion-secrets"
                    )


# --- traffic -------------------------------------------------------------------------------


def test_services_select_pods_and_target_their_named_ports(manifests: Manifests) -> None:
    workloads = manifests.kind("Deployment", "StatefulSet")
    for svc in manifests.kind("Service"):
        selected = [
            w for w in workloads if svc["spec"]["selector"].items() <= pod_labels(w).items()
        ]
        assert len(selected) == 1, svc["metadata"]["name"]
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in named_ports(selected[0]), svc["metadata"]["name"]


def test_the_migrations_job_runs_once_per_release_before_the_services(manifests: Manifests) -> None:
    (job,) = [j for j in manifests.kind("Job") if component(j) == "migrate"]
    spec, c = job["spec"], container_of(job)
    assert c["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] > 0
    assert spec["ttlSecondsAfterFinished"] > 0
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert spec.get("parallelism", 1) == 1
