"""core.threads: one thread policy for model code, MODELYARD_TORCH_THREADS (default 1) per process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django_q.signals import post_spawn

from apps.core.signals import limit_model_threads
from apps.core.threads import THREAD_ENV_VARS, apply_model_thread_policy

ROOT = Path(__file__).resolve().parents[2]


SETUP = "import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'project.settings'); django.setup()\n"


def _python(code: str, **env: str) -> str:
    """Run `code` in a fresh interpreter with Django set up; its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", SETUP + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def clean_thread_env(monkeypatch):
    for name in (*THREAD_ENV_VARS, "TOKENIZERS_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)


def test_the_default_is_one_thread_per_process():
    assert _python("from django.conf import settings; print(settings.MODELYARD_TORCH_THREADS)") == "1"


def test_the_policy_sets_the_thread_variables_that_child_processes_inherit(settings, clean_thread_env):
    settings.MODELYARD_TORCH_THREADS = 3

    assert apply_model_thread_policy() == 3

    assert {name: os.environ[name] for name in THREAD_ENV_VARS} == dict.fromkeys(THREAD_ENV_VARS, "3")
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.stdout.split() == ["3", "3"]


def test_zero_leaves_the_libraries_defaults(settings, clean_thread_env):
    settings.MODELYARD_TORCH_THREADS = 0

    assert apply_model_thread_policy() is None
    assert not any(name in os.environ for name in THREAD_ENV_VARS)


def test_applying_the_policy_does_not_import_torch_and_torch_then_uses_that_many_threads():
    out = _python(
        "from apps.core.threads import apply_model_thread_policy\n"
        "apply_model_thread_policy()\n"
        "print('torch' in sys.modules)\n"
        "import torch\n"
        "print(torch.get_num_threads())\n",
        MODELYARD_TORCH_THREADS="1",
    )
    assert out.split() == ["False", "1"]


def test_a_process_that_already_loaded_torch_is_told_directly():
    out = _python(
        "import torch\n"
        "torch.set_num_threads(3)\n"
        "from apps.core.threads import apply_model_thread_policy\n"
        "apply_model_thread_policy()\n"
        "print(torch.get_num_threads())\n",
        MODELYARD_TORCH_THREADS="2",
    )
    assert out == "2"


def test_every_worker_process_applies_it_when_it_starts():
    sync_receivers, _async_receivers = post_spawn._live_receivers("django_q")
    assert limit_model_threads in sync_receivers


def test_a_negative_thread_count_is_refused_at_start():
    result = subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MODELYARD_TORCH_THREADS": "-1"},
    )
    assert result.returncode != 0
    assert "MODELYARD_TORCH_THREADS must be 0 (library defaults) or more, got -1" in result.stderr
