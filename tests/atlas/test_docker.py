"""docker/compose.yaml describes the production shape (no Docker engine runs here to start it)."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent.parent / "docker" / "compose.yaml"


def load() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_it_has_the_production_services_each_with_a_health_check():
    services = load()["services"]
    for name in ("postgres", "redis", "web", "worker-cpu", "worker-gpu", "reaper"):
        assert name in services, name
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_the_gpu_worker_reserves_an_nvidia_device_and_consumes_the_gpu_queue():
    gpu = load()["services"]["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    queues = gpu["command"][gpu["command"].index("-Q") + 1].split(",")
    assert "gpu" in queues


def test_the_cpu_worker_consumes_only_the_cpu_queue():
    cpu = load()["services"]["worker-cpu"]
    assert cpu["command"][cpu["command"].index("-Q") + 1] == "cpu"


def test_the_app_services_point_at_postgres_and_redis():
    env = load()["services"]["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["DJANGO_SETTINGS_MODULE"] == "atlas.settings.prod"


def test_cpu_workers_scale_each_replica_under_its_own_name():
    cpu = load()["services"]["worker-cpu"]
    assert "container_name" not in cpu and "ports" not in cpu  # both would forbid --scale
    assert cpu["command"][cpu["command"].index("-n") + 1].endswith("@%h")


def test_the_web_tier_serves_media_from_the_artifacts_volume():
    services = load()["services"]
    assert "artifacts:/data:ro" in services["proxy"]["volumes"]
    assert "ports" not in services["web"]  # reached through the web tier only
    nginx = (COMPOSE.parent / "nginx.conf").read_text()
    assert "location /media/" in nginx and "alias /data/media/;" in nginx
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx  # websockets pass through


def test_the_image_installs_only_the_hash_locked_runtime():
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "-r requirements.lock" in dockerfile
    assert "requirements-dev" not in dockerfile
