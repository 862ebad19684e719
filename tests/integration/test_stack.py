"""The real stack: Redis + a Celery worker process + the ASGI server, started as `make run` does."""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.error
import urllib.request

import pytest
from celery import Celery
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.integration


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def client_for(stack) -> Celery:
    app = Celery(broker=stack.redis_url, backend=stack.redis_url)
    app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
    return app


def test_healthz_is_green_once_the_url_is_printed(live_stack):
    status, body = get_json(f"{live_stack.url}/healthz")  # no waiting: the stack waited for it
    assert status == 200, body
    assert live_stack.output().count("Generative Atlas is running at") == 1
    assert set(body["checks"]) == {"database", "redis", "workers"}
    assert all(check["ok"] for check in body["checks"].values())


def test_a_real_task_round_trips_through_real_redis(live_stack):
    result = client_for(live_stack).send_task("tests.probe.ping", args=[21], queue="cpu")
    answer = result.get(timeout=60)
    assert answer["doubled"] == 42
    assert answer["pid"] != os.getpid()


def test_a_websocket_receives_a_message_sent_by_the_worker_process(live_stack):
    token = secrets.token_urlsafe(12)
    ws_url = f"ws://127.0.0.1:{live_stack.port}/ws/probe/{token}/"
    with connect(ws_url, origin=f"http://127.0.0.1:{live_stack.port}", open_timeout=10) as socket:
        time.sleep(0.2)  # group_add has completed once the handshake is accepted; a margin for Redis
        payload = {"hello": "from the worker", "nonce": token}
        client_for(live_stack).send_task("tests.probe.broadcast", args=[token, payload], queue="cpu").get(
            timeout=60
        )
        message = json.loads(socket.recv(timeout=10))
    assert message == {"type": "probe", "payload": payload}


def test_it_refuses_a_websocket_from_a_foreign_origin(live_stack):
    ws_url = f"ws://127.0.0.1:{live_stack.port}/ws/probe/{secrets.token_urlsafe(12)}/"
    with pytest.raises(InvalidStatus) as excinfo:  # noqa: SIM117
        with connect(ws_url, origin="http://evil.example", open_timeout=10):
            pass
    assert excinfo.value.response.status_code == 403
