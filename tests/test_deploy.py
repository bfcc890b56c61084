"""Static checks of the deployment files (no Docker engine runs here; the cluster test runs the
same endpoints file and nginx template for real): they point at files that exist, take every
secret from the environment, and keep the safe settings."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


@pytest.mark.parametrize("dockerfile", ["Dockerfile.rasa", "Dockerfile.actions"])
def test_dockerfiles_copy_only_what_exists(dockerfile):
    for line in (DEPLOY / dockerfile).read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"{dockerfile}: {source} does not exist"


def test_production_endpoints_take_addresses_and_secrets_from_the_environment():
    endpoints = yaml.safe_load((DEPLOY / "endpoints.production.yml").read_text())
    assert endpoints["tracker_store"]["type"] == "components.tracker_store.PrivacyAwareSQLTrackerStore"
    assert endpoints["lock_store"]["type"] == "redis"
    for section in ("tracker_store", "lock_store"):
        for key in ("url", "port", "password"):
            assert re.fullmatch(r"\$\{[A-Z_]+\}", str(endpoints[section][key])), (section, key)
    assert endpoints["tracker_store"]["username"] == "${DB_USER}"


def test_compose_has_no_literal_secrets_and_two_replicas():
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    services = compose["services"]
    assert {"rasa-1", "rasa-2", "actions", "outbox", "postgres", "redis", "nginx"} <= set(services)
    text = (DEPLOY / "compose.yml").read_text()
    secrets = list(re.finditer(r"^\s*[A-Z_]*(PASSWORD|TOKEN|SECRET)[A-Z_]*:\s*(\S+)", text, re.M))
    assert len(secrets) > 5
    for match in secrets:
        assert match.group(2).startswith("${"), match.group(0)


def test_helm_values_override_the_charts_unsafe_defaults():
    values = yaml.safe_load((DEPLOY / "helm/values.yml").read_text())
    app = values["applicationSettings"]
    assert app["token"] == "" and app["cors"] != "*" and app["telemetry"]["enabled"] is False
    assert app["endpoints"]["lockStore"]["enabled"] is True and app["endpoints"]["lockStore"]["type"] == "redis"
    assert app["endpoints"]["trackerStore"]["type"] == "components.tracker_store.PrivacyAwareSQLTrackerStore"
    assert values["replicaCount"] >= 2
