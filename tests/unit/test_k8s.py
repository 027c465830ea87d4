"""k8s/: each overlay renders, validates against Kubernetes' schemas, and keeps what every pod must have.

Rendered with `kubectl kustomize` (kustomize built in) and validated offline with kubernetes-validate,
strictly (unknown fields are errors), for the Kubernetes version named below.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dncgate.api.server import HTTP_ROLES
from dncgate.settings_table import parse_listen

KUBERNETES_VERSION = "1.30.0"  # the oldest the manifests target: the native preStop `sleep` is on by default
ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
ROLE_SERVICES = {
    "gateway": "dncgate.v1.CallGate",
    "registry": "dncgate.v1.Registry",
    "compensation": "dncgate.v1.Compensation",
    "recorder": "",  # a recorder serves no service of its own: health and reflection only
}
# The container ports every long-running role opens; the roles serving the HTTP/JSON face add `http`.
BASE_PORTS = {"grpc": 50051, "health": 50052, "metrics": 9464}
HTTP_PORT = 8081
SECRET_VARIABLES = ("DNCGATE_PEPPER", "DNCGATE_PAYOUT_KEY", "DNCGATE_REDIS_URL", "DNCGATE_DATABASE_URL")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason="kubectl is not installed (.ci/run installs it: apt-get install -y kubectl)",
)


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def _of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def workloads(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, its pod spec) for every Deployment, StatefulSet and Job."""
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            yield doc, doc["spec"]["template"]["spec"]


def _role(workload: dict[str, Any]) -> str:
    return str(workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"])


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _settings(docs: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = [d for d in _of(docs, "ConfigMap") if d["metadata"]["name"] == "dncgate-settings"]
    return dict(config["data"])


def test_every_rendered_resource_passes_strict_schema_validation(rendered: list[dict[str, Any]]) -> None:
    """Each object is valid for the named Kubernetes version, with no field the schema doesn't know."""
    assert rendered
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_a_field_kubernetes_does_not_know() -> None:
    """The validator used above is strict: a misspelt field in a pod spec is an error, not ignored."""
    (gateway,) = [d for d in render("dev") if d["kind"] == "Deployment" and _role(d) == "gateway"]
    kubernetes_validate.validate(gateway, KUBERNETES_VERSION, strict=True)
    # "readiness" with one s: a lax validator would accept the pod, and the kubelet would never probe it.
    gateway["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"grpc": {"port": 50051}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(gateway, KUBERNETES_VERSION, strict=True)


def test_each_role_runs_as_its_own_workload_from_the_same_image(rendered: list[dict[str, Any]]) -> None:
    """Deployments for the three gRPC roles, a StatefulSet for the recorder, a Job running `migrate`."""
    kinds = {(d["kind"], _role(d)) for d, _ in workloads(rendered)}
    assert kinds == {
        ("Deployment", "gateway"),
        ("Deployment", "registry"),
        ("Deployment", "compensation"),
        ("StatefulSet", "recorder"),
        ("Job", "migrate"),
    }
    images = set()
    for workload, pod in workloads(rendered):
        (container,) = pod["containers"]
        images.add(container["image"])
        if workload["kind"] == "Job":
            assert container["args"] == ["migrate"]
        else:
            assert container["args"] == ["serve"]
            assert _env(container)["DNCGATE_ROLE"]["value"] == _role(workload)
    assert len(images) == 1


def test_every_pod_meets_the_restricted_pod_security_standard(rendered: list[dict[str, Any]]) -> None:
    """Non-root, read-only root filesystem with /tmp an emptyDir, no capabilities, RuntimeDefault seccomp."""
    for workload, pod in workloads(rendered):
        name = workload["metadata"]["name"]
        pod_sc = pod.get("securityContext", {})
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), name
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile"))
            assert seccomp == {"type": "RuntimeDefault"}, name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            assert _settings(rendered)["DNCGATE_DATA_DIR"].startswith("/tmp/"), name


def test_every_container_has_cpu_and_memory_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    """Requests and limits for both CPU and memory, on every container of every workload."""
    for workload, pod in workloads(rendered):
        for container in pod["containers"]:
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert set(resources[part]) >= {"cpu", "memory"}, (workload["metadata"]["name"], part)


def test_probes_are_native_grpc_readiness_on_the_roles_service_and_liveness_on_the_overall_one(
    rendered: list[dict[str, Any]],
) -> None:
    """Readiness asks the role's own service, liveness and startup ask "", all on the health port."""
    for workload, pod in workloads(rendered):
        if workload["kind"] == "Job":
            continue
        (container,) = pod["containers"]
        role = _role(workload)
        assert container["readinessProbe"]["grpc"] == {"port": 50052, "service": ROLE_SERVICES[role]}, role
        assert container["livenessProbe"]["grpc"] == {"port": 50052, "service": ""}, role
        assert container["startupProbe"]["grpc"] == {"port": 50052, "service": ""}, role
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == BASE_PORTS | ({"http": HTTP_PORT} if role in HTTP_ROLES else {}), role


def test_the_probes_use_the_plaintext_health_port_the_settings_open_not_the_grpc_port(
    rendered: list[dict[str, Any]],
) -> None:
    """DNCGATE_HEALTH_LISTEN opens the container port named `health`, every probe asks that port (the
    kubelet's gRPC probe speaks no TLS, and the gRPC port may be TLS only), and no NetworkPolicy admits it."""
    settings = _settings(rendered)
    host, _, port = settings["DNCGATE_HEALTH_LISTEN"].rpartition(":")
    assert host == "0.0.0.0"
    for workload, pod in workloads(rendered):
        if workload["kind"] == "Job":
            continue
        (container,) = pod["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["health"] == int(port) != ports["grpc"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == ports["health"], (workload["metadata"]["name"], probe)
    admitted = {
        p["port"]
        for policy in _of(rendered, "NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        for p in rule["ports"]
    }
    assert int(port) not in admitted


def test_pods_listen_on_every_interface_and_are_scraped_on_the_metrics_port(rendered: list[dict[str, Any]]) -> None:
    """The settings listen on 0.0.0.0 in pods; each long-running pod carries the scrape annotations."""
    settings = _settings(rendered)
    assert settings["DNCGATE_LISTEN"] == "0.0.0.0:50051"
    assert settings["DNCGATE_METRICS_LISTEN"] == "0.0.0.0:9464"
    for workload, _ in workloads(rendered):
        if workload["kind"] != "Job":
            annotations = workload["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/port"] == "9464"


def test_the_gateway_listens_for_http_on_every_interface_on_the_port_its_container_and_service_name(
    rendered: list[dict[str, Any]],
) -> None:
    """DNCGATE_HTTP_LISTEN is 0.0.0.0 in pods; the roles that serve the face (the gateway here) open it as
    container port `http`, their Service forwards port `http` to it, and no other role claims the port."""
    settings = _settings(rendered)
    assert parse_listen(settings["DNCGATE_HTTP_LISTEN"]) == ("0.0.0.0", HTTP_PORT)
    assert settings["DNCGATE_HTTP_LISTEN"] == f"0.0.0.0:{HTTP_PORT}"  # written out: no blank host
    services = {s["metadata"]["name"]: s for s in _of(rendered, "Service")}
    serving = set()
    for workload, pod in workloads(rendered):
        if workload["kind"] == "Job":
            continue
        role, name = _role(workload), workload["metadata"]["name"]
        (container,) = pod["containers"]
        ports = {p["name"]: p for p in container["ports"]}
        service_ports = {p["name"]: p for p in services[name]["spec"]["ports"]}
        if role not in HTTP_ROLES:
            assert "http" not in ports and "http" not in service_ports, name
            assert HTTP_PORT not in {p["containerPort"] for p in ports.values()}, name
            continue
        serving.add(role)
        assert ports["http"] == {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}, name
        service_port = service_ports["http"]
        assert (service_port["port"], service_port["targetPort"], service_port["protocol"]) == (
            HTTP_PORT,
            "http",
            "TCP",
        ), name
        selector = services[name]["spec"]["selector"]
        assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items(), name
    assert serving == {"gateway"}


def test_the_pre_stop_pause_and_grace_period_leave_room_for_the_drain(rendered: list[dict[str, Any]]) -> None:
    """preStop sleeps DNCGATE_DRAIN_SECONDS; the grace period covers it, the drain and the last flush (15 s)."""
    drain = int(_settings(rendered)["DNCGATE_DRAIN_SECONDS"])
    for workload, pod in workloads(rendered):
        if workload["kind"] == "Job":
            continue
        (container,) = pod["containers"]
        pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pause == drain
        assert pod["terminationGracePeriodSeconds"] >= pause + drain + 15


def test_secrets_are_only_referenced_never_given_a_value(rendered: list[dict[str, Any]]) -> None:
    """No Secret object is rendered, no secret variable has a value, and the ConfigMap holds none."""
    assert not _of(rendered, "Secret")
    assert not set(SECRET_VARIABLES) & set(_settings(rendered))
    for _, pod in workloads(rendered):
        for name, entry in _env(pod["containers"][0]).items():
            if name in SECRET_VARIABLES:
                assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], name


def test_the_recorder_names_its_consumer_after_its_pod(rendered: list[dict[str, Any]]) -> None:
    """DNCGATE_RECORDER_CONSUMER comes from the downward API's metadata.name, stable in a StatefulSet."""
    (recorder,) = _of(rendered, "StatefulSet")
    env = _env(recorder["spec"]["template"]["spec"]["containers"][0])
    assert env["DNCGATE_RECORDER_CONSUMER"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    (headless,) = [s for s in _of(rendered, "Service") if s["metadata"]["name"] == recorder["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"


def test_long_running_roles_are_spread_and_covered_by_a_disruption_budget(rendered: list[dict[str, Any]]) -> None:
    """Each role spreads over zones and nodes, and a PodDisruptionBudget selects exactly its pods."""
    budgets = [b["spec"]["selector"]["matchLabels"] for b in _of(rendered, "PodDisruptionBudget")]
    for workload, pod in workloads(rendered):
        if workload["kind"] == "Job":
            continue
        labels = workload["spec"]["selector"]["matchLabels"]
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert all(c["labelSelector"]["matchLabels"] == labels for c in pod["topologySpreadConstraints"])
        assert labels in budgets, workload["metadata"]["name"]


def test_the_gateway_scales_on_cpu(rendered: list[dict[str, Any]]) -> None:
    """An autoscaling/v2 HPA targets the gateway Deployment on CPU utilisation."""
    (hpa,) = _of(rendered, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "dncgate-gateway"}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_the_namespace_denies_by_default_and_dialers_reach_only_the_gateway(rendered: list[dict[str, Any]]) -> None:
    """A policy selecting every pod denies ingress and egress; only the gateway admits dialers, on its gRPC
    and HTTP/JSON ports and no other."""
    policies = _of(rendered, "NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny
    dialer_ports: set[int] = set()
    for p in policies:
        for rule in p["spec"].get("ingress", []):
            peers = [peer.get("podSelector", {}).get("matchLabels", {}) for peer in rule.get("from", [])]
            if {"dncgate.io/client": "dialer"} in peers:
                selected = p["spec"]["podSelector"]["matchLabels"]
                assert selected == {"app.kubernetes.io/name": "dncgate", "app.kubernetes.io/component": "gateway"}
                assert all(port["protocol"] == "TCP" for port in rule["ports"])
                dialer_ports |= {port["port"] for port in rule["ports"]}
    assert dialer_ports == {BASE_PORTS["grpc"], HTTP_PORT}


def test_only_dncgate_pods_reach_redis_and_postgresql(rendered: list[dict[str, Any]]) -> None:
    """The stores' ingress admits dncgate's pods alone; dncgate's egress goes to the stores and DNS only."""
    policies = _of(rendered, "NetworkPolicy")
    (stores,) = [
        p
        for p in policies
        if "Ingress" in p["spec"]["policyTypes"] and p["metadata"]["name"].endswith("stores-ingress")
    ]
    (expression,) = stores["spec"]["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == {"redis", "postgresql"}
    assert [peer for rule in stores["spec"]["ingress"] for peer in rule["from"]] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dncgate"}}}
    ]
    (egress,) = [p for p in policies if p["spec"].get("egress")]
    assert egress["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "dncgate"}}
    ports = {port["port"] for rule in egress["spec"]["egress"] for port in rule["ports"]}
    assert ports == {6379, 5432, 53}


def test_dev_runs_one_replica_per_role_and_prod_several() -> None:
    """dev: one of each, HPA from 1; prod: at least two of each, HPA from 3."""
    for overlay, low in (("dev", 1), ("prod", 2)):
        docs = render(overlay)
        for workload, _ in workloads(docs):
            if workload["kind"] != "Job":
                replicas = workload["spec"]["replicas"]
                assert replicas == 1 if overlay == "dev" else replicas >= low, (overlay, workload["metadata"]["name"])
        (hpa,) = _of(docs, "HorizontalPodAutoscaler")
        assert hpa["spec"]["minReplicas"] == (1 if overlay == "dev" else 3)


def test_prod_takes_external_store_urls_and_tls_from_secrets_of_their_own() -> None:
    """prod: the store URLs from the dncgate-redis / dncgate-postgres Secrets, the TLS Secret mounted read-only."""
    for workload, pod in workloads(render("prod")):
        env = _env(pod["containers"][0])
        assert env["DNCGATE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "dncgate-postgres"
        if workload["kind"] == "Job":
            continue
        assert env["DNCGATE_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "dncgate-redis"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == "dncgate-tls"
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "tls"]
        assert mount["readOnly"] is True
        for variable, key in (("DNCGATE_TLS_CERT", "tls.crt"), ("DNCGATE_TLS_KEY", "tls.key")):
            assert env[variable]["value"] == f"{mount['mountPath']}/{key}", variable


def test_dev_serves_plaintext_and_prod_tls_whose_services_claim_no_cleartext_http2() -> None:
    """dev sets no TLS file and its Services say h2c; prod's gRPC ports are TLS, so its Services don't say h2c.
    The gateway's HTTP/JSON port is HTTP/1.1: `http` in dev, `https` in prod (the face takes the gRPC
    port's certificate), never h2c."""
    for overlay, tls in (("dev", False), ("prod", True)):
        docs = render(overlay)
        for workload, pod in workloads(docs):
            if workload["kind"] != "Job":
                assert ("DNCGATE_TLS_CERT" in _env(pod["containers"][0])) is tls, (
                    overlay,
                    workload["metadata"]["name"],
                )
        for service in _of(docs, "Service"):
            if service["spec"].get("clusterIP") == "None":
                continue  # the recorder's headless Service: nothing dials it
            name = service["metadata"]["name"]
            ports = {port["name"]: port for port in service["spec"]["ports"]}
            assert set(ports) == ({"grpc", "http"} if name == "dncgate-gateway" else {"grpc"}), (overlay, name)
            assert ports["grpc"].get("appProtocol") == (None if tls else "kubernetes.io/h2c"), (overlay, name)
            if "http" in ports:
                assert ports["http"]["appProtocol"] == ("https" if tls else "http"), (overlay, name)


def test_the_example_alert_rules_cover_lag_readiness_overdue_complaints_and_errors() -> None:
    """The rules file parses and alerts on the four conditions the README documents."""
    rules = yaml.safe_load((ROOT / "k8s" / "alerts" / "dncgate-rules.yaml").read_text())
    exprs = {r["alert"]: r["expr"] for group in rules["groups"] for r in group["rules"]}
    joined = "\n".join(exprs.values())
    assert "dncgate_recorder_lag_seconds) > 60" in joined
    assert "dncgate_registry_ready) == 0" in joined
    assert "dncgate_complaints_overdue) > 0" in joined
    assert 'grpc_server_handled_total{grpc_code=~"Unavailable|Internal|Unknown|DeadlineExceeded"}' in joined
    assert all(r.get("for") and r["labels"]["severity"] for g in rules["groups"] for r in g["rules"])
