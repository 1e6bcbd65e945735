"""Model specs: one string names a model and where it runs.

    local                       bundled SmolLM2-135M-Instruct on llama.cpp, in-process (default)
    gguf:/path/model.gguf       any GGUF file on llama.cpp, in-process
    hf:/path/folder             a transformers folder (what the training labs write)
    ollama:NAME                 an Ollama server (OLLAMA_HOST or http://127.0.0.1:11434)
    ollama:NAME@http://host:port
    vllm:NAME@http://host:8000/v1     a vLLM server over its OpenAI-compatible API
    openai:NAME@http://host:port/v1   any OpenAI-compatible server (apps.serve included)
    registry:NAME[@ALIAS]       a fine-tuned model registered in MLflow (`models.registry`): its GGUF, else its HF folder

Options follow after `?`, as query parameters: `local?n_ctx=4096&n_threads=1`,
`ollama:qwen2.5?num_ctx=8192`. On llama.cpp, `lora=ADAPTER.gguf` applies a task's LoRA adapter
(`python -m training.export RUN --lora-gguf`) over the base at load time, with no merge:
`local?lora=.hearth/finetune/runs/sql/export/sql-lora-F16.gguf`.

    >>> parse_model_spec("vllm:Qwen/Qwen2.5-7B@http://gpu:8000/v1?temperature=0")
    ModelSpec(provider='vllm', name='Qwen/Qwen2.5-7B', url='http://gpu:8000/v1', options={'temperature': '0'})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from models.settings import parse_flag

PROVIDERS = ("local", "gguf", "hf", "ollama", "vllm", "openai", "registry")
EMBEDDING_PROVIDERS = ("local", "hf", "ollama", "openai", "vllm")
IN_PROCESS_PROVIDERS = ("local", "gguf", "hf", "registry")  # run here by llama.cpp or transformers (registry: a GGUF or HF folder)


def runs_in_process(spec: str) -> bool:
    """Whether a chat model spec runs in this process (a small model on the laptop) rather than on a server.

    >>> runs_in_process("local"), runs_in_process("gguf:/m/tuned.gguf?temperature=0"), runs_in_process("ollama:qwen2.5:7b")
    (True, True, False)
    """
    return str(spec).split("?")[0].split(":")[0] in IN_PROCESS_PROVIDERS

SPEC_HELP = (
    "Use one of: 'local', 'gguf:/path/model.gguf', 'hf:/path/folder', 'ollama:NAME', "
    "'vllm:NAME@http://host:8000/v1', 'openai:NAME@http://host:port/v1', 'registry:NAME@ALIAS'."
)


class ModelSpecError(ValueError):
    """A model spec that cannot be understood or whose model cannot be found."""


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    name: str = ""
    url: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:  # options is a dict; specs are cache keys
        return hash((self.provider, self.name, self.url, tuple(sorted(self.options.items()))))

    def option(self, key: str, default, cast=str):
        """An option cast to the type of its default (`?n_ctx=4096` -> 4096)."""
        if key not in self.options:
            return default
        raw = self.options[key]
        try:
            if cast is bool:
                return parse_flag(raw, key)
            return cast(raw)
        except ValueError as exc:
            raise ModelSpecError(f"Option {key}={raw!r} is not a valid {cast.__name__}.") from exc


def parse_model_spec(spec: str | ModelSpec | None, *, providers=PROVIDERS) -> ModelSpec:
    """Split a spec string into provider, name, server URL and options."""
    if isinstance(spec, ModelSpec):
        return spec
    text = (spec or "local").strip()
    options: dict[str, str] = {}
    if "?" in text:
        text, query = text.split("?", 1)
        options = dict(parse_qsl(query, keep_blank_values=True))
    provider, _, rest = text.partition(":")
    provider = provider.lower()
    if provider not in providers:
        raise ModelSpecError(f"Unknown model provider {provider!r} in spec {spec!r}. {SPEC_HELP}")
    name, url = rest, None
    if provider in ("ollama", "vllm", "openai") and "@" in rest:
        name, url = rest.split("@", 1)
        if not url.startswith(("http://", "https://")):
            raise ModelSpecError(f"Server URL {url!r} in {spec!r} must start with http:// or https://.")
    if provider in ("gguf", "hf", "ollama", "vllm", "openai", "registry") and not name:
        raise ModelSpecError(f"Spec {spec!r} names no model. {SPEC_HELP}")
    if provider in ("vllm", "openai") and not url:
        raise ModelSpecError(
            f"Spec {spec!r} needs the server URL after '@', e.g. '{provider}:{name}@http://127.0.0.1:8000/v1'."
        )
    return ModelSpec(provider=provider, name=name, url=url, options=options)


def resolve_model_spec(spec: str | ModelSpec | None, *, providers=PROVIDERS) -> ModelSpec:
    """A spec with `registry:NAME[@ALIAS]` replaced by the registered files' `gguf:`/`hf:` spec;
    every other spec as `parse_model_spec` gives it."""
    parsed = parse_model_spec(spec, providers=providers)
    if parsed.provider != "registry":
        return parsed
    from models.registry import resolve_registry_spec

    return resolve_registry_spec(parsed)
