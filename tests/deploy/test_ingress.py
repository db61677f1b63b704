"""The Ingress: one public origin, where the longest matching path decides which service
answers (search API, API or web pages), and probes and metrics are refused to every client."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from deploy.manifests import Manifests, Route, named_ports, route

PRIVATE_PATHS = ("/healthz", "/readyz", "/metrics")
ROUTES = [
    ("/", "dandelion-web"),
    ("/dandiset/000001/draft", "dandelion-web"),
    ("/dandiset/000001/draft/files", "dandelion-web"),
    ("/static/htmx.min.js", "dandelion-web"),
    ("/apix", "dandelion-web"),  # a Prefix matches whole path elements
    ("/server-info", "dandelion-api"),
    ("/server-info/more", "dandelion-web"),  # Exact
    ("/api", "dandelion-api"),
    ("/api/dandisets/", "dandelion-api"),
    ("/api/dandisets/000001/versions/draft/assets/?page=2", "dandelion-api"),
    ("/api/info/", "dandelion-api"),
    ("/api/searchx", "dandelion-api"),
    ("/api/search/assets", "dandelion-search-api"),
    ("/api/search/assets/?q=mouse", "dandelion-search-api"),
    ("/api/search/dandisets/", "dandelion-search-api"),
    ("/api/search/docs", "dandelion-search-api"),
]


def host_of(manifests: Manifests) -> str:
    (host,) = {r["host"] for i in manifests.kind("Ingress") for r in i["spec"]["rules"]}
    return str(host)


def served(manifests: Manifests, path: str) -> Route:
    found = route(manifests, host_of(manifests), path)
    assert found is not None, path
    assert not found.refused, path
    return found


@pytest.mark.parametrize(("path", "service"), ROUTES)
def test_the_longest_matching_path_picks_the_service(
    manifests: Manifests, path: str, service: str
) -> None:
    assert served(manifests, path).service == service


def test_probes_and_metrics_are_refused_on_the_public_host(manifests: Manifests) -> None:
    host = host_of(manifests)
    for private in PRIVATE_PATHS:
        for path in (private, private + "/", private + "/x"):
            found = route(manifests, host, path)
            assert found is None or found.refused, path
        # The refusal is narrow: a page whose name merely begins the same is served.
        assert served(manifests, private + "-page").service == "dandelion-web"


def test_without_the_refusal_the_web_would_publish_its_metrics(manifests: Manifests) -> None:
    """The check above can fail: the web's catch-all would otherwise answer them."""
    public = Manifests(
        manifests.overlay,
        tuple(o for o in manifests.objects if o["metadata"]["name"] != "dandelion-private"),
    )
    found = route(public, host_of(manifests), "/metrics")
    assert found is not None
    assert (found.service, found.refused) == ("dandelion-web", False)


def test_ingress_paths_lead_to_existing_services_and_ports(manifests: Manifests) -> None:
    services = {s["metadata"]["name"]: s for s in manifests.kind("Service")}
    for ingress in manifests.kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in ports, path["path"]


def test_the_api_and_the_web_share_one_public_origin(manifests: Manifests) -> None:
    """Both public addresses are the Ingress's host, or (dev) port-forwards of their Services."""
    config = manifests.configmap_data()
    api, web = (
        urlsplit(config[k]) for k in ("DANDELION_API__PUBLIC_URL", "DANDELION_INSTANCE__WEB_URL")
    )
    if api.hostname == "127.0.0.1":  # `kubectl port-forward svc/<name> <port>`
        assert web.hostname == "127.0.0.1"
        for url, name in ((api, "dandelion-api"), (web, "dandelion-web")):
            service = manifests.get("Service", name)
            assert service is not None
            assert url.port in {p["port"] for p in service["spec"]["ports"]}, name
        return
    assert (api.scheme, api.netloc) == (web.scheme, web.netloc)
    assert api.hostname == host_of(manifests)
    tls_hosts = {
        h for i in manifests.kind("Ingress") for t in i["spec"].get("tls", []) for h in t["hosts"]
    }
    assert (api.scheme == "https") == (api.hostname in tls_hosts)
    assert served(manifests, f"{api.path}/api/info/").service == "dandelion-api"
    assert served(manifests, f"{web.path}/").service == "dandelion-web"


def test_the_web_reaches_the_apis_through_their_services(manifests: Manifests) -> None:
    """Never the public origin (a hairpin through the Ingress), always a Service's own port."""
    config = manifests.configmap_data()
    for key, name in (
        ("DANDELION_WEB__API_URL", "dandelion-api"),
        ("DANDELION_WEB__SEARCH_URL", "dandelion-search-api"),
    ):
        url = urlsplit(config[key])
        assert url.hostname == name, key
        service = manifests.get("Service", name)
        assert service is not None
        (port,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
        (server,) = [d for d in manifests.kind("Deployment") if d["metadata"]["name"] == name]
        assert named_ports(server)[port["targetPort"]] == url.port
