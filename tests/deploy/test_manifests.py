"""The Render Blueprint and the Kubernetes manifests, checked offline.

Each Kustomize overlay is rendered (tests/deploy/kustomize.py) and every resource is validated
against the Kubernetes OpenAPI schemas shipped by ``kubernetes-validate`` (strict: unknown fields
fail), then the wiring is checked: probes, selectors, references, the settings the pods get.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from src.infrastructure.settings import load_settings
from tests.deploy.kustomize import KustomizeError, render, strategic_merge

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("development", "production")
#: The oldest Kubernetes the manifests support, and the newest schemas shipped.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
#: Stand-ins for what the Secret holds in a real cluster.
SECRET_VALUES = {
    "DATABASE_URL": "postgresql+asyncpg://parley:secret@db.internal:5432/parley",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "a-production-secret-key-of-enough-length-0123456789",
}

Resource = dict[str, Any]


def documented_settings() -> set[str]:
    """Every setting .env.example documents (``NAME=`` lines, commented out or not)."""
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    return request.param, render(KUBERNETES / "overlays" / request.param)


def one(resources: list[Resource], kind: str, name: str) -> Resource:
    (found,) = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def pod_spec(workload: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def parley_workloads(resources: list[Resource]) -> list[Resource]:
    return [
        r
        for r in resources
        if r["kind"] in ("Deployment", "Job")
        and r["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "parley"
    ]


# -- Kubernetes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_resource_is_valid_kubernetes(overlay: tuple[str, list[Resource]], version: str) -> None:
    _, resources = overlay
    assert len(resources) >= 12
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_schema_check_catches_a_misspelt_field(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    api = one(resources, "Deployment", "parley-api")
    broken = strategic_merge(
        api, {"spec": {"template": {"spec": {"containers": [{"name": "api", "readinesProbe": {}}]}}}}
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(KustomizeError, match="namePrefix"):
        render(tmp_path)


def test_the_api_is_probed_on_health_and_ready_with_resources(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    api = one(resources, "Deployment", "parley-api")
    (container,) = pod_spec(api)["containers"]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    port_names = {port["name"] for port in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in port_names
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_drain_fits_in_the_grace_period(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    config = one(resources, "ConfigMap", "parley-config")["data"]
    api = pod_spec(one(resources, "Deployment", "parley-api"))
    command = api["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    pre_stop = float(re.search(r"sleep\((\d+(?:\.\d+)?)\)", command[-1]).group(1))  # type: ignore[union-attr]
    # Replies get SHUTDOWN_TIMEOUT, the rest of the shutdown about as long again at most.
    assert api["terminationGracePeriodSeconds"] >= pre_stop + float(config["SHUTDOWN_TIMEOUT"]) * 1.5
    worker = pod_spec(one(resources, "Deployment", "parley-worker"))
    assert worker["terminationGracePeriodSeconds"] > float(config["SHUTDOWN_TIMEOUT"])


def test_service_hpa_pdb_and_ingress_point_at_the_api(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    api = one(resources, "Deployment", "parley-api")
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    assert api["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = one(resources, "Service", "parley-api")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = one(resources, "PodDisruptionBudget", "parley-api")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = one(resources, "HorizontalPodAutoscaler", "parley-api")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "parley-api"}
    assert hpa["spec"]["minReplicas"] <= api["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    if "minAvailable" in pdb["spec"]:
        # A PDB the HPA's floor cannot satisfy would block every node drain.
        assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]

    ingress = one(resources, "Ingress", "parley-api")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "parley-api"
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    annotations = ingress["metadata"]["annotations"]
    # SSE and WebSocket: every delta goes out at once, and long-lived streams are not cut.
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600


def test_worker_and_migration_job_run_the_right_commands(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    worker = one(resources, "Deployment", "parley-worker")
    assert pod_spec(worker)["containers"][0]["args"] == ["worker"]
    job = one(resources, "Job", "parley-migrate")
    assert pod_spec(job)["containers"][0]["args"] == ["db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_every_pod_gets_the_config_and_secret_and_the_settings_load(overlay: tuple[str, list[Resource]]) -> None:
    name, resources = overlay
    config = one(resources, "ConfigMap", "parley-config")["data"]
    unknown = set(config) - documented_settings()
    assert not unknown, f"not Parley settings (or missing from .env.example): {sorted(unknown)}"
    secrets = dict(SECRET_VALUES)
    generated = [r for r in resources if r["kind"] == "Secret" and r["metadata"]["name"] == "parley-secrets"]
    if name == "development":
        import base64

        (secret,) = generated
        secrets = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    else:
        assert not generated, "production's Secret is created outside the repository"
    settings = load_settings({**config, **secrets}, env_file=None)
    assert settings.database.backend == "postgresql"
    assert settings.redis.url
    for workload in parley_workloads(resources):
        sources = pod_spec(workload)["containers"][0]["envFrom"]
        assert {"configMapRef": {"name": "parley-config"}} in sources
        assert {"secretRef": {"name": "parley-secrets"}} in sources


def test_pods_meet_the_restricted_pod_security_standard(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    workloads = parley_workloads(resources)
    assert {w["metadata"]["name"] for w in workloads} == {"parley-api", "parley-worker", "parley-migrate"}
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        mounts = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            paths = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            # The only writable places: /tmp and the var directory, both emptyDir.
            assert set(paths) == {"/tmp", "/app/var"}
            assert all("emptyDir" in mounts[volume] for volume in paths.values())


def test_network_policies_deny_by_default_and_select_parley_pods(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    policies = {r["metadata"]["name"]: r for r in resources if r["kind"] == "NetworkPolicy"}
    deny = policies["parley-default-deny"]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    for workload in parley_workloads(resources):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert deny["podSelector"]["matchLabels"].items() <= labels.items(), workload["metadata"]["name"]
    api_ingress = policies["parley-api-ingress"]["spec"]
    assert api_ingress["ingress"][0]["ports"] == [{"port": 8000, "protocol": "TCP"}]
    egress_ports = {p["port"] for rule in policies["parley-egress"]["spec"]["egress"] for p in rule["ports"]}
    assert {53, 5432, 6379, 443} <= egress_ports


def test_production_pins_its_image_and_runs_three_api_pods() -> None:
    resources = render(KUBERNETES / "overlays" / "production")
    for workload in parley_workloads(resources):
        image = pod_spec(workload)["containers"][0]["image"]
        assert image.startswith("ghcr.io/")
        assert not image.endswith((":latest", ":main"))
        assert workload["metadata"]["namespace"] == "parley"
    assert one(resources, "Deployment", "parley-api")["spec"]["replicas"] == 3
    namespace = one(resources, "Namespace", "parley")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert one(resources, "Ingress", "parley-api")["spec"]["tls"]


# -- Render ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blueprint() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "render.yaml").read_text())
    return loaded


def test_render_blueprint_references_resolve(blueprint: dict[str, Any]) -> None:
    databases = {db["name"] for db in blueprint["databases"]}
    services = {(s["type"], s["name"]) for s in blueprint["services"]}
    groups = {g["name"] for g in blueprint["envVarGroups"]}
    for service in blueprint["services"]:
        for var in service.get("envVars", []):
            if "fromDatabase" in var:
                assert var["fromDatabase"]["name"] in databases
            if "fromService" in var:
                ref = var["fromService"]
                assert (ref["type"], ref["name"]) in services
            if "fromGroup" in var:
                assert var["fromGroup"] in groups
        if service.get("runtime") == "docker":
            assert (ROOT / service["dockerfilePath"]).is_file()
            assert (ROOT / service["dockerContext"]).is_dir()


def test_render_runs_api_worker_and_migrations(blueprint: dict[str, Any]) -> None:
    by_name = {s["name"]: s for s in blueprint["services"]}
    web, worker, redis = by_name["parley-api"], by_name["parley-worker"], by_name["parley-redis"]
    assert web["type"] == "web"
    assert web["dockerCommand"] == "parley serve"
    assert web["healthCheckPath"] == "/ready"
    assert web["preDeployCommand"] == "parley db upgrade"
    assert worker["type"] == "worker"
    assert worker["dockerCommand"] == "parley worker"
    # The job queue must never be evicted.
    assert redis["type"] == "keyvalue"
    assert redis["maxmemoryPolicy"] == "noeviction"
    assert blueprint["databases"][0]["databaseName"] == "parley"


def test_render_settings_are_parley_settings_and_load(blueprint: dict[str, Any]) -> None:
    environ: dict[str, str] = {}
    for group in blueprint["envVarGroups"]:
        for var in group["envVars"]:
            assert var["key"] in documented_settings(), var["key"]
            if "value" in var:
                environ[var["key"]] = str(var["value"])
            elif var.get("generateValue"):
                environ[var["key"]] = SECRET_VALUES[var["key"]]
    # What Render fills in: its connection strings (postgresql:// is accepted as is).
    environ["DATABASE_URL"] = "postgresql://parley:secret@dpg-example-a:5432/parley"
    environ["REDIS_URL"] = "redis://red-example:6379"
    settings = load_settings(environ, env_file=None)
    assert settings.is_production
    assert settings.database.backend == "postgresql"
