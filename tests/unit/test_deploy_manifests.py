"""The scale-out deployment files validate offline and point the graphs at the engines by spec.

    .venv/bin/python -m pytest tests/unit/test_deploy_manifests.py -q
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from models.spec import parse_model_spec

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "NEO4J_PASSWORD": "neo-secret",
           "HEARTH_API_KEY": "gateway-secret", "GRAFANA_ADMIN_PASSWORD": "grafana-secret"}


def _k8s_documents():
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.name, document


def test_every_kubernetes_manifest_validates_strictly():
    import kubernetes_validate

    documents = list(_k8s_documents())
    assert len(documents) >= 20
    for name, document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_kubernetes_stack_has_every_engine_and_a_three_node_qdrant():
    kinds = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in _k8s_documents()}
    for name in ("vllm", "graphs", "gateway", "redis", "prometheus", "grafana"):
        assert ("Deployment", name) in kinds, name
    for name in ("qdrant", "postgres", "neo4j"):
        assert ("StatefulSet", name) in kinds, name
    assert kinds[("StatefulSet", "qdrant")]["spec"]["replicas"] == 3
    config = kinds[("ConfigMap", "hearth-config")]["data"]
    spec = parse_model_spec(config["HEARTH_MODEL"])
    assert (spec.provider, spec.url) == ("vllm", "http://vllm:8000/v1")
    services = {name for kind, name in kinds if kind == "Service"}
    assert {"vllm", "qdrant", "postgres", "neo4j", "redis", "gateway", "graphs"} <= services


def test_no_secret_is_written_into_the_manifests():
    for _, document in _k8s_documents():
        assert document["kind"] != "Secret", "secrets are created with kubectl, never committed"
        text = yaml.safe_dump(document)
        assert "password:" not in text.lower().replace("secretkeyref", "")


def _compose(env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: ./dev test installs it (Debian package docker-compose)")
    return subprocess.run([binary, "-f", str(DEPLOY / "compose.yaml"), "config"], capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"], **env}, timeout=120)


def test_compose_file_validates_and_wires_the_engines():
    result = _compose(SECRETS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert {"vllm", "qdrant-0", "qdrant-1", "qdrant-2", "neo4j", "postgres", "redis", "graphs",
            "gateway", "prometheus", "grafana"} <= set(services)
    graphs_env = services["graphs"]["environment"]
    assert parse_model_spec(graphs_env["HEARTH_MODEL"]).provider == "vllm"
    assert graphs_env["HEARTH_GRAPH"] == "bolt://neo4j:neo-secret@neo4j:7687"
    assert services["gateway"]["environment"]["HEARTH_API_KEY"] == "gateway-secret"
    assert "--tensor-parallel-size=1" in services["vllm"]["command"]


def test_compose_file_refuses_to_render_without_its_secrets():
    result = _compose({key: value for key, value in SECRETS.items() if key != "POSTGRES_PASSWORD"})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_prometheus_scrapes_services_that_exist():
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    compose_services = set(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"])
    for job in scrape["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            assert target.split(":")[0] in compose_services, target
