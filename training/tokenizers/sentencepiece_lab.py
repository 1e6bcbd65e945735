"""SentencePiece on mixed English and German, and how often each language falls off its vocabulary.

    python -m training.tokenizers.sentencepiece_lab                          # unigram, 4000 pieces
    python -m training.tokenizers.sentencepiece_lab --model-type bpe --vocab-size 8000 --with-pubmedqa
    python -m training.tokenizers.sentencepiece_lab --out .hearth/tokenizers/sp-en-de

    from training.tokenizers.sentencepiece_lab import train_sentencepiece, unknown_rates
    sp = train_sentencepiece([english, german], vocab_size=4000, model_type="unigram")
    unknown_rates(sp, {"en": held_out_en, "de": held_out_de})   # -> [LanguageReport, ...]

SentencePiece works on characters, not bytes: a character it kept out of the vocabulary (the rarest
0.05% by default, `character_coverage`) becomes the unknown piece <unk>, and the text no longer
round-trips. Byte-level BPE (`training.tokenizers.bpe`) cannot have unknowns. The per-language
report shows the price: how many tokens are <unk>, which characters they hide, and how many
characters each token covers (fewer for the language with less training text).
Training runs in-process from an iterator of sentences (a few seconds on ~300 KB).
"""

from __future__ import annotations

import argparse
import io
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import regex

MODEL_TYPES = ("unigram", "bpe")
DEFAULT_LANGUAGES = {"en": "xquad_en", "de": "xquad_de"}
# SentencePiece skips sentences longer than this many bytes, so long lines are cut first.
MAX_SENTENCE_BYTES = 4000
_SENTENCE_END = regex.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> Iterator[str]:
    """Lines cut after sentence-ending punctuation, none longer than MAX_SENTENCE_BYTES.

    >>> list(split_sentences("One. Two!\\n\\nThree"))
    ['One.', 'Two!', 'Three']
    """
    for line in text.splitlines():
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            while len(sentence.encode("utf-8")) > MAX_SENTENCE_BYTES:
                cut = sentence.rfind(" ", 0, MAX_SENTENCE_BYTES // 4) if " " in sentence else -1
                cut = cut if cut > 0 else MAX_SENTENCE_BYTES // 4
                yield sentence[:cut]
                sentence = sentence[cut:].strip()
            if sentence:
                yield sentence


def train_sentencepiece(texts: Iterable[str], vocab_size: int = 4000, *, model_type: str = "unigram",
                        out_prefix: str | Path | None = None, character_coverage: float = 0.9995,
                        byte_fallback: bool = False):
    """Train a SentencePiece model on `texts` (each split into sentences) and return the loaded
    `sentencepiece.SentencePieceProcessor`. With `out_prefix`, also write PREFIX.model (load it
    with `load_sentencepiece`) and PREFIX.vocab (piece and score per line)."""
    import sentencepiece as spm

    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type={model_type!r}: use one of {', '.join(MODEL_TYPES)}.")
    sentences = [s for text in texts for s in split_sentences(text)]
    if not sentences:
        raise ValueError("train_sentencepiece got no text: pass one or more non-empty strings.")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size, model_type=model_type,
            character_coverage=character_coverage, byte_fallback=byte_fallback, num_threads=2, minloglevel=2,
            hard_vocab_limit=False)
    except RuntimeError as exc:
        raise ValueError(f"SentencePiece could not train a {vocab_size}-piece {model_type} model: {exc}. "
                         "Use a smaller vocab_size or more text.") from exc
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    if out_prefix is not None:
        prefix = Path(out_prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{prefix}.model").write_bytes(model.getvalue())
        Path(f"{prefix}.vocab").write_text("".join(
            f"{processor.id_to_piece(i)}\t{processor.get_score(i):.4f}\n" for i in range(processor.get_piece_size())),
            encoding="utf-8")
    return processor


def load_sentencepiece(path: str | Path):
    """A SentencePieceProcessor from a PREFIX.model file."""
    import sentencepiece as spm

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No SentencePiece model at {str(path)!r}; train one with "
                                "`python -m training.tokenizers.sentencepiece_lab --out PREFIX`.")
    return spm.SentencePieceProcessor(model_file=str(path))


@dataclass
class LanguageReport:
    language: str
    characters: int
    tokens: int
    unknown_tokens: int
    unknown_rate: float          # share of tokens that are <unk>
    chars_per_token: float
    round_trip_exact: bool
    round_trip_ignoring_whitespace: bool  # SentencePiece collapses runs of spaces and drops newlines
    unknown_examples: list[str]  # the most frequent strings hidden behind <unk>


def unknown_rates(processor, texts_by_language: Mapping[str, str]) -> list[LanguageReport]:
    """Per language: tokens, <unk> count and share, characters per token, exact round trip."""
    reports = []
    unk = processor.unk_id()
    for language, text in texts_by_language.items():
        ids = processor.encode(text)
        pieces = processor.encode(text, out_type=str)
        hidden = Counter(piece for piece, i in zip(pieces, ids) if i == unk)
        unknown = sum(hidden.values())
        decoded = processor.decode(ids)
        reports.append(LanguageReport(
            language=language, characters=len(text), tokens=len(ids), unknown_tokens=unknown,
            unknown_rate=unknown / max(1, len(ids)), chars_per_token=len(text) / max(1, len(ids)),
            round_trip_exact=decoded == text, round_trip_ignoring_whitespace=decoded.split() == text.split(),
            unknown_examples=[s for s, _ in hidden.most_common(8)]))
    return reports


def split_held_out(text: str, fraction: float) -> tuple[str, str]:
    """(train, held-out): the last `fraction` of the text, cut at a line break."""
    cut = int(len(text) * (1 - fraction))
    line_break = text.find("\n", cut)
    cut = line_break if line_break != -1 else cut
    return text[:cut], text[cut:].strip()


def run_lab(languages: Mapping[str, str] = DEFAULT_LANGUAGES, vocab_size: int = 4000, *, model_type: str = "unigram",
            held_out_fraction: float = 0.1, max_chars: int | None = 250_000, out_prefix: str | Path | None = None):
    """Train on every language's corpus (minus a held-out tail) and report unknowns per language
    on the held-out text. Returns (processor, reports)."""
    from training.corpora import load_corpus

    train, held_out = {}, {}
    for language, corpus in languages.items():
        text = load_corpus(corpus, max_chars=max_chars)
        train[language], held_out[language] = split_held_out(text, held_out_fraction)
    processor = train_sentencepiece(train.values(), vocab_size, model_type=model_type, out_prefix=out_prefix)
    return processor, unknown_rates(processor, held_out)


def format_reports(reports: list[LanguageReport]) -> str:
    lines = ["| language | chars | tokens | <unk> | unk rate | chars/token | exact round trip | "
             "round trip ignoring whitespace | hidden by <unk> |", "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for r in reports:
        lines.append(f"| {r.language} | {r.characters} | {r.tokens} | {r.unknown_tokens} | {r.unknown_rate:.3%} | "
                     f"{r.chars_per_token:.2f} | {'yes' if r.round_trip_exact else 'no'} | "
                     f"{'yes' if r.round_trip_ignoring_whitespace else 'no'} | "
                     f"{' '.join(r.unknown_examples) or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import json
    import time

    parser = argparse.ArgumentParser(prog="python -m training.tokenizers.sentencepiece_lab",
                                     description="SentencePiece on English + German, unknown rates per language")
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--model-type", choices=MODEL_TYPES, default="unigram")
    parser.add_argument("--with-pubmedqa", action="store_true", help="add PubMed abstracts as a third 'language'")
    parser.add_argument("--max-chars", type=int, default=250_000, help="characters read per corpus")
    parser.add_argument("--out", default=None, help="path prefix for PREFIX.model / PREFIX.vocab")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)

    languages = dict(DEFAULT_LANGUAGES, **({"en-biomed": "pubmedqa"} if args.with_pubmedqa else {}))
    started = time.perf_counter()
    processor, reports = run_lab(languages, args.vocab_size, model_type=args.model_type, max_chars=args.max_chars,
                                 out_prefix=args.out)
    seconds = time.perf_counter() - started
    print(f"{args.model_type} model, {processor.get_piece_size()} pieces, trained in {seconds:.1f} s"
          + (f", saved to {args.out}.model" if args.out else ""))
    if args.json:
        print(json.dumps([asdict(r) for r in reports], ensure_ascii=False, indent=1))
    else:
        print(format_reports(reports))


if __name__ == "__main__":
    main()
