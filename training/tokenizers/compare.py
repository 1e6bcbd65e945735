"""The same text through six tokenizers: ours, SentencePiece, BERT WordPiece, SmolLM2, GPT-4, GPT-4o.

    python -m apps.tokenizers --text "Der Vertrag gilt ab 1. Mai. 👋 def f(x): return x**2"

    from training.tokenizers.compare import compare_tokenizers, tokenize_for_display
    for row in compare_tokenizers("Straße über 👋 Roe v. Wade, 410 U.S. 113"):
        print(row.name, row.tokens, row.chars_per_token, row.round_trip_exact)
    tokenize_for_display("cl100k_base", "Hello world")      # -> ['Hello', ' world']

Tokenizers (`available_tokenizers()`):
- ours-bpe: `training.tokenizers.bpe`, by default trained once on the legal opinions (4096 tokens)
  and cached under .hearth/tokenizers/; pass `bpe_path` for another model.
- sentencepiece: `sentencepiece_lab`, unigram on English + German XQuAD, cached the same way.
- bert-wordpiece: the vocabulary of the bundled all-MiniLM-L6-v2 (uncased BERT WordPiece).
- smollm2: the tokenizer stored in the bundled SmolLM2 GGUF, read by llama.cpp (vocab only).
- cl100k_base, o200k_base: tiktoken (GPT-4, GPT-4o), from the files bundled with llama-index.

Statistics: tokens, whitespace-separated words, tokens per word, characters per token, unknown
tokens (<unk>/[UNK] ids) and whether decode(encode(text)) gives the text back exactly.
"""

from __future__ import annotations

import html
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

DEFAULT_BPE_VOCAB_SIZE = 4096
DEFAULT_SENTENCEPIECE_VOCAB_SIZE = 4000
SAMPLE_TEXT = (
    "The court held in Roe v. Wade, 410 U.S. 113, 153 (1973), that the right extends to the decision.\n"
    "Die Straße über dem Fluß wird am 1. Mai gesperrt; Änderungen vorbehalten.\n"
    "def tokens_per_word(tokens: int, words: int) -> float:\n    return tokens / max(1, words)  # 👋🏽 🇩🇪\n"
    "東京は日本の首都です。"
)
TOKENIZER_NAMES = ("ours-bpe", "sentencepiece", "bert-wordpiece", "smollm2", "cl100k_base", "o200k_base")


class TextTokenizer(Protocol):
    """What the comparison needs from a tokenizer."""

    name: str
    unknown_id: int | None

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def token_strings(self, ids: list[int]) -> list[str]: ...


@dataclass
class TokenizerStats:
    name: str
    tokens: int
    words: int
    tokens_per_word: float
    chars_per_token: float
    unknown_tokens: int
    round_trip_exact: bool


def _show_bytes(token: bytes) -> str:
    """A byte-level token as text; a piece of a multi-byte character shows its bytes (\\xf0\\x9f)."""
    return token.decode("utf-8", errors="backslashreplace")


class OurBPE:
    unknown_id = None

    def __init__(self, path: str | Path, name: str = "ours-bpe"):
        from training.tokenizers.bpe import BPETokenizer

        self.name, self.path, self.tokenizer = name, Path(path), BPETokenizer.load(path)

    def encode(self, text):
        return self.tokenizer.encode(text, allowed_special="none")

    def decode(self, ids):
        return self.tokenizer.decode(ids)

    def token_strings(self, ids):
        return [_show_bytes(self.tokenizer.token_bytes(i)) for i in ids]


class Tiktoken:
    unknown_id = None

    def __init__(self, encoding_name: str):
        import models  # noqa: F401  (TIKTOKEN_CACHE_DIR: the bundled encodings, no download)
        import tiktoken

        self.name, self.encoding = encoding_name, tiktoken.get_encoding(encoding_name)

    def encode(self, text):
        return self.encoding.encode_ordinary(text)

    def decode(self, ids):
        return self.encoding.decode(ids)

    def token_strings(self, ids):
        return [_show_bytes(self.encoding.decode_single_token_bytes(i)) for i in ids]


class SentencePiece:
    def __init__(self, path: str | Path, name: str = "sentencepiece"):
        from training.tokenizers.sentencepiece_lab import load_sentencepiece

        self.name, self.processor = name, load_sentencepiece(path)
        self.unknown_id = self.processor.unk_id()

    def encode(self, text):
        return self.processor.encode(text)

    def decode(self, ids):
        return self.processor.decode(ids)

    def token_strings(self, ids):
        return [self.processor.id_to_piece(i) for i in ids]


class WordPiece:
    """BERT's WordPiece as shipped with the bundled MiniLM (lower-cases, strips accents)."""

    def __init__(self, folder: str | Path | None = None, name: str = "bert-wordpiece"):
        from tokenizers import Tokenizer

        if folder is None:
            from models.bundled import minilm_folder

            folder = minilm_folder()
        self.name, self.tokenizer = name, Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.no_truncation()  # the model folder truncates to 128 tokens for embedding
        self.tokenizer.no_padding()
        self.unknown_id = self.tokenizer.token_to_id("[UNK]")

    def encode(self, text):
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.tokenizer.decode(ids)

    def token_strings(self, ids):
        return [self.tokenizer.id_to_token(i) for i in ids]


class GGUFVocabulary:
    """The tokenizer inside a GGUF file, run by llama.cpp with the vocabulary only (no weights)."""

    unknown_id = None

    def __init__(self, path: str | Path | None = None, name: str = "smollm2"):
        from llama_cpp import Llama

        if path is None:
            from models.bundled import smollm2_gguf_path

            path = smollm2_gguf_path()
        self.name, self.llama = name, Llama(model_path=str(path), vocab_only=True, verbose=False)

    def encode(self, text):
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def decode(self, ids):
        return self.llama.detokenize(ids).decode("utf-8", errors="replace")

    def token_strings(self, ids):
        return [_show_bytes(self.llama.detokenize([i])) for i in ids]


def tokenizer_home() -> Path:
    from models.settings import data_home

    return data_home() / "tokenizers"


def _save_atomically(save, prefix: Path, suffixes: tuple[str, ...]) -> None:
    """Write through a temporary prefix and rename, so a parallel reader never sees half a file."""
    temporary = prefix.with_name(f"{prefix.name}.tmp{os.getpid()}")
    save(temporary)
    for suffix in suffixes:
        os.replace(f"{temporary}{suffix}", f"{prefix}{suffix}")


def default_bpe_path(vocab_size: int = DEFAULT_BPE_VOCAB_SIZE) -> Path:
    """Our BPE trained on the legal opinions, trained on first use (~1 s) and cached."""
    prefix = tokenizer_home() / f"legal-bpe-{vocab_size}"
    model = Path(f"{prefix}.model")
    if not model.is_file():
        from training.corpora import load_corpus
        from training.tokenizers.bpe import train_bpe

        tokenizer = train_bpe(load_corpus("legal"), vocab_size, special_tokens=["<|endoftext|>"])
        _save_atomically(tokenizer.save, prefix, (".model", ".vocab"))
    return model


def default_sentencepiece_path(vocab_size: int = DEFAULT_SENTENCEPIECE_VOCAB_SIZE) -> Path:
    """SentencePiece unigram on English + German XQuAD, trained on first use (a few s) and cached."""
    prefix = tokenizer_home() / f"sentencepiece-en-de-{vocab_size}"
    model = Path(f"{prefix}.model")
    if not model.is_file():
        from training.tokenizers.sentencepiece_lab import run_lab

        prefix.parent.mkdir(parents=True, exist_ok=True)
        _save_atomically(lambda p: run_lab(vocab_size=vocab_size, out_prefix=p), prefix, (".model", ".vocab"))
    return model


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_tokenizers() -> list[str]:
    """Names `compare_tokenizers` accepts whose libraries are installed here."""
    needs = {"ours-bpe": "regex", "sentencepiece": "sentencepiece", "bert-wordpiece": "tokenizers",
             "smollm2": "llama_cpp", "cl100k_base": "tiktoken", "o200k_base": "tiktoken"}
    return [name for name in TOKENIZER_NAMES if _installed(needs[name])]


@lru_cache(maxsize=32)
def load_tokenizer(name: str, path: str | None = None) -> TextTokenizer:
    """One tokenizer by name (cached per process). `path` overrides the default model file of
    ours-bpe, sentencepiece (a .model file), bert-wordpiece (a folder) or smollm2 (a .gguf)."""
    if name == "ours-bpe":
        return OurBPE(path or default_bpe_path())
    if name == "sentencepiece":
        return SentencePiece(path or default_sentencepiece_path())
    if name == "bert-wordpiece":
        return WordPiece(path)
    if name == "smollm2":
        return GGUFVocabulary(path)
    if name in ("cl100k_base", "o200k_base"):
        return Tiktoken(name)
    raise ValueError(f"Unknown tokenizer {name!r}: use one of {', '.join(TOKENIZER_NAMES)}.")


def count_words(text: str) -> int:
    return len(text.split())


def tokenizer_stats(tokenizer: TextTokenizer, text: str) -> TokenizerStats:
    ids = tokenizer.encode(text)
    words = count_words(text)
    unknown = 0 if tokenizer.unknown_id is None else sum(1 for i in ids if i == tokenizer.unknown_id)
    return TokenizerStats(name=tokenizer.name, tokens=len(ids), words=words,
                          tokens_per_word=len(ids) / max(1, words), chars_per_token=len(text) / max(1, len(ids)),
                          unknown_tokens=unknown, round_trip_exact=tokenizer.decode(ids) == text)


def _path_for(name: str, bpe_path: str | None, sentencepiece_path: str | None) -> str | None:
    path = {"ours-bpe": bpe_path, "sentencepiece": sentencepiece_path}.get(name)
    return str(path) if path else None


def compare_tokenizers(text: str, names: list[str] | None = None, *, bpe_path: str | None = None,
                       sentencepiece_path: str | None = None) -> list[TokenizerStats]:
    """Statistics of `text` under each tokenizer in `names` (default: all available), in order."""
    names = list(names) if names else available_tokenizers()
    unknown = [n for n in names if n not in TOKENIZER_NAMES]
    if unknown:
        raise ValueError(f"Unknown tokenizer(s) {unknown}: use names from {', '.join(TOKENIZER_NAMES)}.")
    return [tokenizer_stats(load_tokenizer(n, _path_for(n, bpe_path, sentencepiece_path)), text) for n in names]


def tokenize_for_display(name: str, text: str, *, bpe_path: str | None = None,
                         sentencepiece_path: str | None = None) -> list[str]:
    """The token strings of `text` under tokenizer `name` (a byte token that cuts a character
    shows as escaped bytes)."""
    tokenizer = load_tokenizer(name, _path_for(name, bpe_path, sentencepiece_path))
    return tokenizer.token_strings(tokenizer.encode(text))


TOKEN_COLOURS = ("#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe")


def tokens_html(tokens: list[str]) -> str:
    """Tokens as HTML spans with alternating background colours (escaped; whitespace kept).

    >>> print(tokens_html(["<b>", " x"]).replace("><", ">\\n<"))
    <div style="white-space: pre-wrap; font-family: monospace; line-height: 1.9">
    <span style="background:#fde68a; border-radius:3px">&lt;b&gt;</span>
    <span style="background:#bfdbfe; border-radius:3px"> x</span>
    </div>
    """
    spans = "".join(f'<span style="background:{TOKEN_COLOURS[i % len(TOKEN_COLOURS)]}; border-radius:3px">'
                    f"{html.escape(token)}</span>" for i, token in enumerate(tokens))
    return f'<div style="white-space: pre-wrap; font-family: monospace; line-height: 1.9">{spans}</div>'


def format_table(rows: list[TokenizerStats]) -> str:
    """A markdown table of comparison rows."""
    lines = ["| tokenizer | tokens | words | tokens/word | chars/token | unknown | exact round trip |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.tokens} | {r.words} | {r.tokens_per_word:.2f} | {r.chars_per_token:.2f} | "
                     f"{r.unknown_tokens} | {'yes' if r.round_trip_exact else 'no'} |")
    return "\n".join(lines)
