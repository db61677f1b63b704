"""NetworkPolicies: every pod is isolated, and each component reaches exactly the backing
services it uses (DESIGN.md's ownership), evaluated with Kubernetes' policy semantics over the
rendered manifests."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from deploy.manifests import Endpoint, Manifests, Network, Obj, component, named_ports

from dandelion_common.settings import DoiSettings

# Which backing service each component talks to (the web's are the two APIs).
NEEDS = {
    "api": {"postgres", "redis", "s3"},
    "search-api": {"postgres", "redis", "s3", "opensearch"},
    "web": {"api", "search-api"},
    "ingest-worker": {"postgres", "redis", "s3"},
    "search-worker": {"postgres", "redis", "opensearch"},
    "doi-worker": {"postgres", "redis", "datacite"},
    "migrate": {"postgres"},
    "bootstrap": {"s3"},
}
# Where a managed service listens when its URL is in the Secret (production).
MANAGED_PORTS = {"postgres": 5432, "redis": 6379, "opensearch": 443, "s3": 443}
URL_SETTINGS = {
    "postgres": "DANDELION_POSTGRES__URL",
    "redis": "DANDELION_REDIS__URL",
    "opensearch": "DANDELION_OPENSEARCH__URL",
    "s3": "DANDELION_S3__ENDPOINT_URL",
    "datacite": "DANDELION_DOI__API_URL",
    "api": "DANDELION_WEB__API_URL",
    "search-api": "DANDELION_WEB__SEARCH_URL",
}
DEFAULT_PORTS = {
    "postgresql+asyncpg": 5432,
    "redis": 6379,
    "rediss": 6379,
    "http": 80,
    "https": 443,
}
OUTSIDE = Endpoint(ip="203.0.113.10")  # an address outside the cluster (TEST-NET-3)
DNS = Endpoint(
    labels={"k8s-app": "kube-dns"}, namespace={"kubernetes.io/metadata.name": "kube-system"}
)


def url_of(m: Manifests, service: str) -> str | None:
    config = m.configmap_data()
    if service == "datacite":
        return config.get(URL_SETTINGS[service], DoiSettings().api_url)
    return config.get(URL_SETTINGS[service])


def port_of(m: Manifests, service: str) -> int:
    url = url_of(m, service)
    if url is None:
        return MANAGED_PORTS[service]
    parts = urlsplit(url)
    return parts.port or DEFAULT_PORTS[parts.scheme]


def destination(m: Manifests, net: Network, service: str) -> Endpoint:
    """The pod behind `service`'s URL when it runs in the namespace, else an outside address."""
    url = url_of(m, service)
    host = urlsplit(url).hostname if url else None
    svc = m.get("Service", host) if host else None
    if svc is None:
        return OUTSIDE
    (server,) = [w for w in m.kind("StatefulSet", "Deployment") if _selects(svc, w)]
    # The URL's port is a port of the Service, which leads to the pod's named port.
    (port,) = [p for p in svc["spec"]["ports"] if p["port"] == port_of(m, service)]
    assert named_ports(server)[port["targetPort"]] == port_of(m, service)
    return net.pod(server)


def _selects(svc: Obj, workload: Obj) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return bool(svc["spec"]["selector"].items() <= labels.items())


def app_pods(m: Manifests, net: Network) -> dict[str, Endpoint]:
    return {component(w): net.pod(w) for w in m.workloads() if component(w) in NEEDS}


@pytest.fixture
def net(manifests: Manifests) -> Network:
    return Network.of(manifests)


def test_every_pod_is_isolated_by_a_default_deny(manifests: Manifests, net: Network) -> None:
    deny = [
        p
        for p in net.policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny) == 1
    stranger = Endpoint(labels={"app": "x"}, namespace={"kubernetes.io/metadata.name": "other"})
    for w in manifests.workloads():
        pod = net.pod(w)
        for port in named_ports(w).values():
            assert not net.ingress(pod, port, stranger), w["metadata"]["name"]
        assert not net.egress(pod, 8080, OUTSIDE), w["metadata"]["name"]


def test_every_pod_resolves_names(manifests: Manifests, net: Network) -> None:
    for w in manifests.workloads():
        assert net.egress(net.pod(w), 53, DNS), w["metadata"]["name"]


def test_each_component_reaches_exactly_the_services_it_uses(
    manifests: Manifests, net: Network
) -> None:
    pods = app_pods(manifests, net)
    assert set(pods) >= set(NEEDS) - {"bootstrap"}
    services = {s for needs in NEEDS.values() for s in needs}
    for name, pod in pods.items():
        for service in services:
            port, target = port_of(manifests, service), destination(manifests, net, service)
            # A port shared by two services (443) is open if either is needed.
            needed = any(port_of(manifests, s) == port for s in NEEDS[name])
            assert net.connects(pod, port, target) == needed, (name, service, port)
            # Least privilege on the way out too, not only at the server's door.
            assert net.egress(pod, port, target) == needed, (name, service, port)


def test_in_cluster_servers_accept_only_their_clients(manifests: Manifests, net: Network) -> None:
    pods = app_pods(manifests, net)
    for service in ("postgres", "redis", "opensearch", "s3", "api", "search-api"):
        server = destination(manifests, net, service)
        if server is OUTSIDE:
            continue  # a managed service (production)
        port = port_of(manifests, service)
        for name, pod in pods.items():
            assert net.ingress(server, port, pod) == (service in NEEDS[name]), (service, name)


def test_the_web_reaches_nothing_but_the_two_apis_and_dns(
    manifests: Manifests, net: Network
) -> None:
    pods = {component(w): w for w in manifests.kind("Deployment", "StatefulSet")}
    web = net.pod(pods["web"])
    assert net.egress(web, 53, DNS)
    allowed = {("api", 8000), ("search-api", 8001)}
    probed = {80, 443, 5432, 6379, 8000, 8001, 8080, 8085, 8333, 9100, 9200}
    for name, w in pods.items():
        for port in probed | set(named_ports(w).values()):
            expected = (name, port) in allowed
            assert net.connects(web, port, net.pod(w)) == expected, (name, port)
            assert net.egress(web, port, net.pod(w)) == expected, (name, port)
    for port in probed | {53}:
        assert not net.egress(web, port, OUTSIDE), port  # the APIs' ports only to their pods


def test_only_the_ingress_controller_reaches_the_http_services(
    manifests: Manifests, net: Network
) -> None:
    controller = Endpoint(
        labels={"app.kubernetes.io/name": "ingress-nginx"},
        namespace={"kubernetes.io/metadata.name": "ingress-nginx"},
    )
    backends = {
        p["backend"]["service"]["name"]
        for i in manifests.kind("Ingress")
        for r in i["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    for w in manifests.kind("Deployment"):
        pod, ports = net.pod(w), named_ports(w)
        served = any(
            s["metadata"]["name"] in backends and _selects(s, w) for s in manifests.kind("Service")
        )
        for port in ports.values():
            assert net.ingress(pod, port, controller) == served, w["metadata"]["name"]
        neighbour = app_pods(manifests, net)["doi-worker"]
        assert not any(net.ingress(pod, port, neighbour) for port in ports.values())


def test_prometheus_scrapes_every_service(manifests: Manifests, net: Network) -> None:
    prometheus = Endpoint(
        labels={"app.kubernetes.io/name": "prometheus"},
        namespace={"kubernetes.io/metadata.name": "monitoring"},
    )
    for w in manifests.kind("Deployment"):
        annotations = w["spec"]["template"]["metadata"]["annotations"]
        port = int(annotations["prometheus.io/port"])
        assert annotations["prometheus.io/path"] == "/metrics"
        assert port in named_ports(w).values()
        assert net.ingress(net.pod(w), port, prometheus), w["metadata"]["name"]


def test_the_evaluator_denies_what_no_policy_allows(manifests: Manifests) -> None:
    """The checks above can fail: without the allow policies nothing gets through."""
    deny_only = Network(
        [p for p in manifests.kind("NetworkPolicy") if p["spec"]["podSelector"] == {}],
        Network.of(manifests).namespace,
    )
    api = next(w for w in manifests.kind("Deployment") if component(w) == "api")
    assert net_allows_nothing(deny_only, deny_only.pod(api))


def net_allows_nothing(net: Network, pod: Endpoint) -> bool:
    return not any(net.egress(pod, port, OUTSIDE) for port in (443, 5432, 6379, 9200))
