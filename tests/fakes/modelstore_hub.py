"""A Modelyard mirror serving tiny models: the hub of the model store's tests.

It is a second store: its own database (on the tests' PostgreSQL server), its own data
directory, the repositories imported with `manage.py import_model`, and `manage.py serve` with
an API key, so every download in the tests goes through `huggingface_hub` to a real HF-compatible
endpoint, offline.
"""

import hashlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from tests.fakes.modelstore_repos import build_gguf_repo, build_safetensors_repo, build_tiny_llama
from tests.fakes.servers import ROOT, LiveServer, database_env, database_url, start_live_server

HUB_KEY = "hub-test-key"
LLAMA = "acme/tiny-llama"
GGUF = "tiny-org/tiny-gguf-GGUF"
ENCODER = "tiny-org/tiny-encoder"
GGUF_SIZES = {"Q4_K_M": 300_000, "Q8_0": 560_000, "F16": 1_050_000}
# Two shards of 1 MiB and 2.5 MiB of float32 weights (917,504 parameters): big enough to be
# caught halfway by a throttled download.
ENCODER_SHARDS = [{"embeddings.weight": [256, 1024]}, {"encoder.weight": [640, 1024]}]


@dataclass
class Hub:
    server: LiveServer
    home: Path
    repos: dict[str, Path]
    database: str
    token: str = HUB_KEY
    sha256: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hub"

    def files(self, repo_id: str) -> dict[str, int]:
        folder = self.repos[repo_id]
        return {
            path.relative_to(folder).as_posix(): path.stat().st_size
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }


def build_repos(base: Path) -> dict[str, Path]:
    return {
        LLAMA: build_tiny_llama(base / "tiny-llama"),
        GGUF: build_gguf_repo(base / "tiny-gguf", stem="tiny-gguf", sizes=GGUF_SIZES),
        ENCODER: build_safetensors_repo(base / "tiny-encoder", shards=ENCODER_SHARDS),
    }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_hub(base: Path, *, extra: dict[str, Callable[[Path], Path]] | None = None) -> Hub:
    """Build the repositories (and `extra` ones: repo id → builder of a folder), a database and a
    data directory for the mirror, and serve it."""
    repos = build_repos(base / "repos")
    for repo_id, build in (extra or {}).items():
        repos[repo_id] = build(base / "repos" / repo_id.replace("/", "--"))
    database = f"{connection.settings_dict['NAME']}_hub"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{database}"')
    home = base / "hub-home"
    env = database_env(
        DATABASE_URL=database_url({**connection.settings_dict, "NAME": database}), MODELYARD_HOME=str(home)
    )
    _manage(env, "migrate", "--noinput", "-v", "0")
    for repo_id, folder in repos.items():
        _manage(env, "import_model", str(folder), "--source", "huggingface", "--id", repo_id)
    server = start_live_server(
        base / "hub.log", DATABASE_URL=env["DATABASE_URL"], MODELYARD_HOME=str(home), MODELYARD_API_KEY=HUB_KEY
    )
    sha256 = {
        repo_id: {
            path.relative_to(folder).as_posix(): file_sha256(path) for path in folder.rglob("*") if path.is_file()
        }
        for repo_id, folder in repos.items()
    }
    return Hub(server=server, home=home, repos=repos, database=database, sha256=sha256)


def stop_hub(hub: Hub) -> None:
    hub.server.stop()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{hub.database}" WITH (FORCE)')


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
