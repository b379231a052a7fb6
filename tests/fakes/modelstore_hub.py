"""A Modelyard mirror serving tiny models: the hub of the model store's tests.

It is a second store: its own database (on the tests' PostgreSQL server), its own data
directory, the repositories imported with `manage.py import_model`, and `manage.py serve` with
an API key, so every download in the tests goes through `huggingface_hub` to a real HF-compatible
endpoint, offline. `GatedHub` puts it behind a proxy that gates repositories as huggingface.co does.
"""

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.db import connection

from tests.fakes.modelstore_repos import build_gguf_repo, build_safetensors_repo, build_tiny_llama
from tests.fakes.servers import ROOT, LiveServer, database_env, database_url, start_live_server

HUB_KEY = "hub-test-key-0123456789"
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


# --- gated repositories ------------------------------------------------------------------------

GATED_GRANTED_TOKEN = "granted-token"


class GatedHub:
    """The test hub with repositories gated the way huggingface.co gates them, for the store's tests.

    A proxy in front of a `Hub`: model info (`/api/models/{repo}`, its `revision/…` and the
    search list) carries `"gated": "manual"` for the gated repos, their listings stay public, and
    their files (`/{repo}/resolve/…`, HEAD and GET) answer 401 with `X-Error-Code: GatedRepo`
    without a token, 403 `GatedRepo` with a token that was not granted access, and the file with
    `GATED_GRANTED_TOKEN`. Requests go upstream with the hub's own key.
    """

    def __init__(self, hub: Hub, *, gated: tuple[str, ...], granted: tuple[str, ...] = (GATED_GRANTED_TOKEN,)):
        from http.server import ThreadingHTTPServer

        self.hub = hub
        self.gated = set(gated)
        self.granted = set(granted)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hub"

    def __enter__(self) -> "GatedHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def refusal(self, path: str, authorization: str | None) -> tuple[int, str] | None:
        """The status and message the real hub answers for a gated file, or None to serve it."""
        repo = next((repo for repo in self.gated if path.startswith(f"/hub/{repo}/resolve/")), None)
        token = (authorization or "").removeprefix("Bearer ").strip()
        if repo is None or token in self.granted:
            return None
        if not token:
            return 401, (
                f"Access to model {repo} is restricted. You must have access to it and be authenticated to "
                "access it. Please log in."
            )
        return 403, (
            f"Access to model {repo} is restricted and you are not in the authorized list. "
            f"Visit {self.url}/{repo} to ask for access."
        )

    def _handler(self) -> type:
        from http.server import BaseHTTPRequestHandler

        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_HEAD(self) -> None:
                self._answer("HEAD")

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                refusal = proxy.refusal(self.path, self.headers.get("Authorization"))
                if refusal is not None:
                    status, message = refusal
                    self._send(status, {"X-Error-Code": "GatedRepo", "X-Error-Message": message}, message, method)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() in ("range", "accept-encoding", "user-agent", "content-type")
                }
                headers["Authorization"] = f"Bearer {proxy.hub.token}"
                answer = httpx.request(
                    method,
                    proxy.hub.server.url + self.path,
                    headers=headers,
                    content=self.rfile.read(length) if length else None,
                    timeout=30,
                )
                body = answer.content
                if method == "GET" and answer.status_code == 200 and self.path.startswith("/hub/api/models"):
                    body = json.dumps(self._gate(answer.json())).encode()
                kept = {
                    name: value
                    for name, value in answer.headers.items()
                    if name.lower() not in ("transfer-encoding", "connection", "server", "date", "content-length")
                }
                self._send_raw(answer.status_code, kept, body, method, length=answer.headers.get("content-length"))

            def _gate(self, data: object) -> object:
                entries = data if isinstance(data, list) else [data]
                for entry in entries:
                    if isinstance(entry, dict) and entry.get("id") in proxy.gated:
                        entry["gated"] = "manual"
                return data

            def _send(self, status: int, headers: dict[str, str], message: str, method: str) -> None:
                body = json.dumps({"error": message}).encode()
                self._send_raw(status, {**headers, "Content-Type": "application/json"}, body, method)

            def _send_raw(
                self, status: int, headers: dict[str, str], body: bytes, method: str, length: str | None = None
            ) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", length if method == "HEAD" and length else str(len(body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)

        return Handler
