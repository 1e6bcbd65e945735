"""Model providers: every chat model and embedding model comes from a spec string.

    from models import load_chat_model, load_embeddings
    llm = load_chat_model("local")                      # SmolLM2-135M on llama.cpp, in-process
    llm = load_chat_model("ollama:qwen2.5:7b?num_ctx=8192")
    llm = load_chat_model("vllm:Qwen/Qwen2.5-7B-Instruct@http://gpu-box:8000/v1")
    emb = load_embeddings("local")                      # bundled all-MiniLM-L6-v2

Nothing is loaded on import: the chat model opens its weights on first call, and models are
cached per spec. See `models.spec` for the grammar of a spec.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from models.runtime import configure_runtime
from models.spec import IN_PROCESS_PROVIDERS, ModelSpec, ModelSpecError, parse_model_spec, resolve_model_spec

configure_runtime()

if TYPE_CHECKING:  # importing `models` stays cheap: no LangChain until a model is built
    from langchain_core.language_models import BaseChatModel

DEFAULT_CHAT_MODEL = "local"
DEFAULT_EMBEDDINGS = "local"


@lru_cache(maxsize=16)
def _build_chat_model(spec: ModelSpec) -> BaseChatModel:
    # In-process small models answer best greedily; served models keep a little sampling.
    embedded = spec.provider in IN_PROCESS_PROVIDERS  # resolved: a registry: spec is a gguf: or hf: one by now
    temperature = spec.option("temperature", 0.0 if embedded else 0.2, float)
    max_tokens = spec.option("max_tokens", 512, int)
    max_string = spec.option("max_string", 256, int)  # in-process models: cap on unbounded JSON strings
    if spec.provider in ("local", "gguf"):
        from models.bundled import smollm2_gguf_path
        from models.llamacpp import LlamaCppChatModel

        path = smollm2_gguf_path() if spec.provider == "local" else Path(spec.name).expanduser()
        if not path.is_file():
            raise ModelSpecError(f"GGUF file {str(path)!r} does not exist. Check the path after 'gguf:'.")
        lora = spec.options.get("lora")  # a task adapter over this base: local?lora=RUN/export/NAME-lora-F16.gguf
        return LlamaCppChatModel(model_path=str(path), lora_path=str(Path(lora).expanduser()) if lora else None,
                                 n_ctx=spec.option("n_ctx", 4096, int),
                                 n_threads=spec.option("n_threads", 0, int), temperature=temperature,
                                 max_tokens=max_tokens, seed=spec.option("seed", 0, int),
                                 max_string_length=max_string)
    if spec.provider == "hf":
        from models.transformers_chat import TransformersChatModel

        folder = Path(spec.name).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelSpecError(f"{str(folder)!r} is not a transformers folder (no config.json). Point 'hf:' at what save_pretrained() wrote.")
        return TransformersChatModel(folder=str(folder), n_threads=spec.option("n_threads", 0, int),
                                     temperature=temperature, max_tokens=max_tokens,
                                     max_string_length=max_string)
    if spec.provider == "ollama":
        from langchain_ollama import ChatOllama

        # Ollama's own default context (2048) silently truncates RAG prompts: always say it.
        extra = {"base_url": spec.url} if spec.url else {}
        return ChatOllama(model=spec.name, num_ctx=spec.option("num_ctx", spec.option("n_ctx", 8192, int), int),
                          temperature=temperature, num_predict=max_tokens, **extra)
    from langchain_openai import ChatOpenAI

    import os

    from models.serving.keys import client_key

    api_key = (spec.options.get("api_key") or client_key(spec.url) or os.environ.get("OPENAI_API_KEY")
               or "not-needed")
    return ChatOpenAI(model=spec.name, base_url=spec.url, api_key=api_key, temperature=temperature,
                      max_tokens=max_tokens, timeout=spec.option("timeout", 120.0, float), max_retries=1)


def load_chat_model(spec: str | ModelSpec | None = None) -> BaseChatModel:
    """A LangChain chat model for a spec ('local' when None). Cached per spec; a `registry:` spec
    is resolved to the registered files on every call, so moving an alias takes effect."""
    return _build_chat_model(resolve_model_spec(spec or DEFAULT_CHAT_MODEL))


def load_embeddings(spec: str | ModelSpec | None = None):
    """LangChain Embeddings for a spec ('local' when None): see `models.embeddings`."""
    from models.embeddings import load_embeddings as _load

    return _load(spec or DEFAULT_EMBEDDINGS)


__all__ = ["load_chat_model", "load_embeddings", "parse_model_spec", "resolve_model_spec", "ModelSpec", "ModelSpecError",
           "DEFAULT_CHAT_MODEL", "DEFAULT_EMBEDDINGS"]
