"""One thread policy for model code (torch, tokenizers, BLAS), applied once where model code starts.

Measured on 2 shared cores: torch `generate` and SetFit training ran 4–10× slower with 2 threads
than with 1 while the web server and the database were busy, so each worker process runs model
code with MODELYARD_TORCH_THREADS threads (default 1). `apply_model_thread_policy()` runs when a
worker process starts (core.signals, django-q2's post_spawn) and must run at the start of any other
process that loads models (the model runtime), before torch is imported.

It never imports torch: the web server must not load it (tests/test_architecture.py). It sets the
thread variables of the OpenMP/MKL/BLAS runtimes, which torch reads when it is first imported and
which child processes inherit, and tells torch directly only when this process has already loaded it.
"""

import os
import sys

from django.conf import settings

# Read by OpenMP (torch's intra-op pool), Intel MKL, OpenBLAS, Apple Accelerate and numexpr.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def apply_model_thread_policy() -> int | None:
    """Limit model code in this process (and the processes it starts) to MODELYARD_TORCH_THREADS
    threads; returns that number, or None when the setting is 0 (the libraries' own defaults)."""
    threads = settings.MODELYARD_TORCH_THREADS
    if threads == 0:
        return None
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    # Rust tokenizers start their own pool per process; with one thread per worker it only competes.
    os.environ["TOKENIZERS_PARALLELISM"] = "false" if threads == 1 else "true"
    torch = sys.modules.get("torch")
    if torch is not None:  # already loaded here: the variables came too late for its pool
        torch.set_num_threads(threads)
    return threads
