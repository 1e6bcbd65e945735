"""A transformers folder in-process (`hf:PATH`): the models the training labs write.

    >>> llm = load_chat_model("hf:runs/sft-smollm2")        # doctest: +SKIP

Constrained output (tool calls, structured output) uses lm-format-enforcer's JSON-schema
parser as a `prefix_allowed_tokens_fn`, so the same envelope as llama.cpp comes out valid.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from models.embedded import EmbeddedChatModel
from models.runtime import default_threads
from models.spec import ModelSpecError


@lru_cache(maxsize=2)
def open_transformers(folder: str, n_threads: int):
    path = Path(folder)
    if not (path / "config.json").is_file():
        raise ModelSpecError(
            f"{folder!r} is not a transformers model folder (no config.json). Point 'hf:' at the folder "
            "that save_pretrained() wrote."
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(n_threads)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    model.eval()
    return model, tokenizer, threading.Lock()


@lru_cache(maxsize=2)
def _enforcer_tokenizer_data(folder: str, tokenizer):
    """lm-format-enforcer's view of the vocabulary (one decode per token: built once per model).
    Built here because its transformers integration imports a module transformers 5 removed."""
    from lmformatenforcer import TokenEnforcerTokenizerData

    special = set(tokenizer.all_special_ids)
    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    regular = []
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        # Decoding after "0" keeps a leading space that decoding alone would drop.
        after_zero = tokenizer.decode([zero, token_id])[1:]
        regular.append((token_id, after_zero, len(after_zero) > len(tokenizer.decode([token_id]))))

    def decode(tokens: list[int]) -> str:
        return tokenizer.decode(tokens).rstrip("\ufffd")

    return TokenEnforcerTokenizerData(regular, decode, tokenizer.eos_token_id, False, len(tokenizer))


def schema_constraint(folder: str, tokenizer, json_schema: dict):
    """A `prefix_allowed_tokens_fn` that lets `generate` emit only JSON valid under `json_schema`."""
    from lmformatenforcer import CharacterLevelParserConfig, JsonSchemaParser, TokenEnforcer

    # Compact JSON in field order: whitespace runs and free key order only let a weak model
    # wander until max_tokens cuts the object short.
    config = CharacterLevelParserConfig(max_consecutive_whitespaces=1, force_json_field_order=True)
    enforcer = TokenEnforcer(_enforcer_tokenizer_data(folder, tokenizer), JsonSchemaParser(json_schema, config=config))
    return lambda batch_id, sequence: enforcer.get_allowed_tokens(sequence.tolist()).allowed_tokens


class TransformersChatModel(EmbeddedChatModel):
    """A LangChain chat model over a local transformers folder."""

    folder: str
    n_threads: int = 0

    @property
    def _llm_type(self) -> str:
        return "transformers"

    @property
    def _identifying_params(self):
        return {"folder": self.folder}

    def _inputs(self, messages: list[dict], json_schema: dict | None, max_tokens: int, temperature: float):
        model, tokenizer, lock = open_transformers(self.folder, self.n_threads or default_threads())
        if tokenizer.chat_template:
            prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:  # a base model written by a pretraining lab: plain turns
            prompt = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        kwargs = dict(**inputs, max_new_tokens=max_tokens, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False)
        if json_schema is not None:
            kwargs["prefix_allowed_tokens_fn"] = schema_constraint(self.folder, tokenizer, json_schema)
        return model, tokenizer, lock, kwargs

    def _complete(self, messages, *, json_schema, max_tokens, temperature, stop):
        import torch

        model, tokenizer, lock, kwargs = self._inputs(messages, json_schema, max_tokens, temperature)
        prompt_len = kwargs["input_ids"].shape[1]
        with lock, torch.inference_mode():
            output = model.generate(**kwargs)
        new_tokens = output[0, prompt_len:]
        text = tokenizer.decode(new_tokens, skip_special_tokens=True)
        text = _cut_at_stop(text, stop)
        finish = "length" if len(new_tokens) >= kwargs["max_new_tokens"] else "stop"
        usage = {"prompt_tokens": prompt_len, "completion_tokens": int(len(new_tokens)),
                 "total_tokens": prompt_len + int(len(new_tokens))}
        return text, {"model": Path(self.folder).name, "finish_reason": finish, "usage": usage}

    def _complete_stream(self, messages, *, json_schema, max_tokens, temperature, stop) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        model, tokenizer, lock, kwargs = self._inputs(messages, json_schema, max_tokens, temperature)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        with lock:
            worker = threading.Thread(target=model.generate, kwargs={**kwargs, "streamer": streamer}, daemon=True)
            worker.start()
            yield from streamer
            worker.join()


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    for s in stop or []:
        if s in text:
            text = text[: text.index(s)]
    return text
