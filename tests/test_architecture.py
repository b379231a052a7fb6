"""The layout rules of ARCHITECTURE.md and CONVENTIONS.md, checked on every run."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_apps_respect_their_floors_and_each_others_private_modules():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_web_server_and_the_task_modules_do_not_load_torch_or_transformers():
    task_modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in (ROOT / "apps").glob("*/tasks.py")
    )
    script = f"""
import importlib, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
import django
django.setup()
import project.asgi, project.urls, project.urls_node, project.urls_forecast
for name in {task_modules!r}:
    importlib.import_module(name)
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers", "setfit") if m in sys.modules)
print("HEAVY:", heavy)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert task_modules, "no tasks.py found"
    assert "HEAVY: []" in result.stdout, result.stdout


def _app_modules() -> list[tuple[str, Path, ast.Module]]:
    """(app, path, syntax tree) of every module of every app, migrations left out."""
    return [
        (path.relative_to(ROOT / "apps").parts[0], path, ast.parse(path.read_text()))
        for path in sorted((ROOT / "apps").rglob("*.py"))
        if "migrations" not in path.parts
    ]


JOB_STARTERS = {"job_enqueue", "schedule_ensure", "schedule_on_worker_start"}


def test_every_job_and_schedule_runs_a_function_of_its_own_apps_tasks_module():
    """One way to start a job: `job_enqueue` and the schedules name `apps.<app>.tasks.<function>`."""
    found, wrong = [], []
    for app, path, tree in _app_modules():
        for call in ast.walk(tree):
            callee = getattr(call, "func", None)
            name = getattr(callee, "attr", None) or getattr(callee, "id", None)
            if not isinstance(call, ast.Call) or name not in JOB_STARTERS:
                continue
            if app == "core" and (path.parent.name == "jobs" or path.name == "schedules.py"):
                continue  # the helpers themselves
            func = next((keyword.value for keyword in call.keywords if keyword.arg == "func"), None)
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if not isinstance(func, ast.Constant) or not isinstance(func.value, str):
                wrong.append(f"{where}: func is not a literal dotted path")
                continue
            found.append(func.value)
            module, _, function = func.value.rpartition(".")
            if module != f"apps.{app}.tasks" or not hasattr(importlib.import_module(module), function):
                wrong.append(f"{where}: {func.value} is not a function of apps.{app}.tasks")
    assert len(found) >= 6, found  # backends (sync, pull, schedule), chains, modelstore, nodes (poll, schedule)
    assert wrong == []


def test_no_app_imports_its_own_modules_inside_functions_to_dodge_a_circle():
    """Shared pieces move down into a module both sides import (backends: credentials, routing_table).

    Heavy ML libraries are still imported inside functions, by design; `AppConfig.ready` imports
    signals the Django way. core/signals.py is left to core's owners (its imports are not a circle).
    """
    inside = []
    for app, path, tree in _app_modules():
        if path.name == "apps.py" or (app == "core" and path.name == "signals.py"):
            continue
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                modules += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                inside += [
                    f"{path.relative_to(ROOT)}:{node.lineno} imports {module}"
                    for module in modules
                    if module.startswith(f"apps.{app}")
                ]
    assert inside == []
