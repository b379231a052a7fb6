"""The layout rules of ARCHITECTURE.md and CONVENTIONS.md, checked on every run."""

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
