"""The models behind the server, loaded on first use, and the names clients may call them by."""

from __future__ import annotations

import threading
from typing import Any, Callable, Literal
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool

from models.serving.errors import APIError

def display_name(spec: str) -> str:
    """The model id clients see: the spec itself ('local' for 'local'), without any api_key."""
    spec = (spec or "local").strip()
    if "?" not in spec:
        return spec
    base, query = spec.split("?", 1)
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "api_key"]
    return f"{base}?{urlencode(kept)}" if kept else base


# Other names clients commonly send for the bundled models (e.g. `openai:minilm@URL`).
BUNDLED_ALIASES = {"chat": ("smollm2",), "embeddings": ("minilm", "all-MiniLM-L6-v2")}


class ServedModels:
    """The chat model and embeddings behind the server. Nothing loads until a request needs it.

    A request names its model by the spec's display name (`local`, `gguf:/m.gguf`, ...), by a
    bundled model's alias (`minilm`) or by a name given with `--served-model-name`; any other
    name is answered 404 `model_not_found`, as OpenAI does."""

    def __init__(self, model_spec: str, embeddings_spec: str, chat_model: Any = None, embeddings: Any = None,
                 served_names: tuple[str, ...] = (), on_load: Callable[[str, str], None] | None = None):
        self.model_spec = model_spec
        self.on_load = on_load  # on_load(kind, model id) after a model is built
        self.embeddings_spec = embeddings_spec
        self.chat_id = display_name(model_spec)
        self.embeddings_id = display_name(embeddings_spec)
        self.names = {"chat": self._names(self.chat_id, "chat", served_names),
                      "embeddings": self._names(self.embeddings_id, "embeddings", ())}
        self._chat = chat_model
        self._embeddings = embeddings
        self._lock = threading.Lock()

    @staticmethod
    def _names(model_id: str, kind: str, extra: tuple[str, ...]) -> list[str]:
        aliases = BUNDLED_ALIASES[kind] if model_id == "local" else ()
        return list(dict.fromkeys([model_id, *extra, *aliases]))

    def resolve(self, name: str | None, kind: Literal["chat", "embeddings"]) -> str:
        """The model id to echo for a request that names `name` (None: the default), or 404."""
        names = self.names[kind]
        if name is None or name in names:
            return name or names[0]
        other = "embeddings" if kind == "chat" else "chat"
        hint = (f" {name!r} is this server's {other} model: send it to "
                f"/v1/{'embeddings' if other == 'embeddings' else 'chat/completions'}." if name in self.names[other] else "")
        raise APIError(404, f"The model {name!r} does not exist.{hint} This server's {kind} models: {names} "
                            "(GET /v1/models lists them).", param="model", code="model_not_found")

    @property
    def chat_loaded(self) -> bool:
        return self._chat is not None

    @property
    def embeddings_loaded(self) -> bool:
        return self._embeddings is not None

    def chat_if_loaded(self):
        """The chat model once it is loaded, else None (lets a request skip the loader's thread hop)."""
        return self._chat

    def chat(self):
        if self._chat is None:
            with self._lock:
                if self._chat is None:
                    from models import load_chat_model

                    self._chat = load_chat_model(self.model_spec)
                    if self.on_load:
                        self.on_load("chat", self.chat_id)
        return self._chat

    def embeddings(self):
        if self._embeddings is None:
            with self._lock:
                if self._embeddings is None:
                    from models import load_embeddings

                    self._embeddings = load_embeddings(self.embeddings_spec)
                    if self.on_load:
                        self.on_load("embeddings", self.embeddings_id)
        return self._embeddings


async def load_served(getter: Callable[[], Any], spec: str, flag: str):
    from models.spec import ModelSpecError

    try:
        return await run_in_threadpool(getter)
    except ModelSpecError as exc:
        raise APIError(503, f"The model {spec!r} cannot be loaded: {exc} "
                            f"Restart the server with a working {flag} spec.",
                       type="server_error", code="model_not_available") from exc
    except (ImportError, OSError) as exc:
        raise APIError(503, f"The model {spec!r} cannot be loaded: {type(exc).__name__}: {exc}. "
                            f"Run `./dev setup`, or restart the server with another {flag} spec.",
                       type="server_error", code="model_not_available") from exc
