"""Where the layers meet: compute/ knows nothing of the web side, and the runs app has no import
circle between its services, its tasks and the execution of a run (imports read with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
WEB_SIDE = {"django", "atlas", "celery", "channels", "rest_framework", "daphne", "drf_spectacular"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_nothing_under_compute_imports_the_web_side():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] in WEB_SIDE)
        for path in sorted((ROOT / "compute").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_a_web_import_when_there_is_one():
    """Negative control: the same reader finds Django and atlas imports in a file that has them."""
    sample = ROOT / "atlas" / "runs" / "tasks.py"
    assert {"django.conf", "atlas.runs"} <= imported_modules(sample)


def _runs_graph() -> dict[str, set[str]]:
    modules = {f"atlas.runs.{p.stem}": p for p in (ROOT / "atlas" / "runs").glob("*.py")}
    return {name: {m for m in imported_modules(path) if m in modules} for name, path in modules.items()}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*trail, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return None


def test_the_runs_tasks_close_no_import_circle():
    graph = _runs_graph()
    assert "atlas.runs.execution" in graph["atlas.runs.tasks"]  # the edge the circle used to close
    for module in ("atlas.runs.tasks", "atlas.runs.services", "atlas.runs.execution"):
        assert _cycle_through(graph, module) is None, module


def test_the_cycle_finder_finds_a_circle():
    """Negative control: the old shape (services → tasks → execution → services) is reported."""
    old = {"s": {"t"}, "t": {"e"}, "e": {"s"}}
    assert _cycle_through(old, "s") == ["s", "t", "e", "s"]


def test_the_moved_task_keeps_the_name_queued_messages_carry():
    from atlas.celery import app
    from atlas.runs import services, tasks

    assert tasks.execute_run.name == services.EXECUTE_RUN_TASK == "compute.tasks.execute_run"
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery included
    assert app.tasks[services.EXECUTE_RUN_TASK].run.__module__ == "atlas.runs.tasks"


def test_production_code_has_no_probe_socket_or_task():
    from django.conf import settings

    from atlas.celery import app
    from atlas.routing import websocket_urlpatterns

    assert settings.ATLAS_WEBSOCKET_ROUTES == "atlas.routing.websocket_urlpatterns"
    assert [str(route.pattern) for route in websocket_urlpatterns] == ["ws/runs/<str:public_id>/"]
    app.loader.import_default_modules()
    assert not [name for name in app.tasks if "probe" in name or name.endswith(".ping")]
