"""deploy/compose.yaml and docs/deploy.md agree with each other and with the settings.

No container engine runs here: the compose file is parsed as YAML and checked for the set-up
the docs promise, and every ``MOORAGE_`` variable either names is a real setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from moorage.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCS = ROOT / "docs" / "deploy.md"
VARIABLE = re.compile(r"\bMOORAGE_[A-Z0-9_]+\b")
SETTINGS = {f"MOORAGE_{name.upper()}" for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return env


class TestComposeFile:
    def test_the_promised_services(self, compose) -> None:
        services = compose["services"]
        assert {"postgres", "rabbitmq", "api-1", "api-2", "worker-1", "worker-2"} <= set(services)
        for name in ("api-1", "api-2"):
            assert services[name]["command"][0] == "serve"
        for name in ("worker-1", "worker-2"):
            assert services[name]["command"][0] == "worker"

    def test_every_moorage_process_shares_database_broker_and_key(self, compose) -> None:
        moorage = {
            n: s for n, s in compose["services"].items() if s.get("image") == "moorage:latest"
        }
        assert len(moorage) >= 5
        envs = [_env(s) for s in moorage.values()]
        for key in ("MOORAGE_DATABASE_URL", "MOORAGE_BROKER_URL", "MOORAGE_SECRET_KEY"):
            assert len({e[key] for e in envs}) == 1, key
        assert envs[0]["MOORAGE_DATABASE_URL"].startswith("postgresql://")
        assert "@rabbitmq:5672" in envs[0]["MOORAGE_BROKER_URL"]

    def test_only_real_settings(self, compose) -> None:
        names = {k for s in compose["services"].values() for k in _env(s)}
        named = {n for n in names if n.startswith("MOORAGE_")}
        assert named, "no MOORAGE_ variable found"
        assert named <= SETTINGS, named - SETTINGS

    def test_the_image_and_the_balancer_exist(self, compose) -> None:
        build = compose["services"]["api-1"]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
        nginx = (COMPOSE.parent / "nginx.conf").read_text()
        for api in ("api-1", "api-2"):
            assert f"server {api}:8000" in nginx

    def test_apis_wait_for_migrations(self, compose) -> None:
        migrate = compose["services"]["migrate"]
        assert migrate["command"] == ["migrate"]
        for name in ("api-1", "api-2", "worker-1", "worker-2"):
            needs = compose["services"][name]["depends_on"]["migrate"]
            assert needs["condition"] == "service_completed_successfully"


class TestDeployDocs:
    def test_every_setting_is_documented(self) -> None:
        documented = set(VARIABLE.findall(DOCS.read_text()))
        assert documented >= SETTINGS, SETTINGS - documented

    def test_only_real_settings_are_named(self) -> None:
        documented = set(VARIABLE.findall(DOCS.read_text()))
        assert documented <= SETTINGS, documented - SETTINGS

    def test_documented_defaults_match(self) -> None:
        rows = re.findall(r"^\| `(MOORAGE_[A-Z0-9_]+)` \| `([^`]*)`", DOCS.read_text(), re.M)
        checked = 0
        defaults = Settings.model_construct()
        for variable, default in rows:
            field = variable.removeprefix("MOORAGE_").lower()
            value = getattr(defaults, field, None)
            if isinstance(value, int | str) and not isinstance(value, bool):
                assert str(value) == default, variable
                checked += 1
        assert checked >= 10
