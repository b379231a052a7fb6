"""Loaded by pytest (`-p tests.testenv`) before Django reads its settings.

The tests get their own data directory, so their embedded PostgreSQL and files never touch
a developer's `./var`, and start with no API key from the caller's environment.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("MODELYARD_HOME", str(ROOT / "var" / "test"))
for name in ("MODELYARD_API_KEY", "DEVON_API_KEY", "DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)
