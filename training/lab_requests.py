"""Deterministic reading of lab requests: which tools, in which order, with which arguments.

    >>> plan = parse_request("train a 2,000-token BPE on the legal opinions and compare it with GPT-4's tokenizer")
    >>> [(s.tool, s.args) for s in plan.steps]
    [('train_bpe_tokenizer', {'vocab_size': 2000, 'corpus': 'legal'}), ('compare_tokenizers', {'names': ['ours-bpe', 'cl100k_base'], 'text_or_corpus': 'legal'})]
    >>> plan.steps[1].uses
    {'tokenizer_path': (0, 'tokenizer_path')}

The parser settles the common forms (numbers such as "2,000-token" or "2k", corpus names and
their synonyms, "GPT-4" -> cl100k_base). What it cannot settle is left in `missing`, for the
model to fill under a grammar constraint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CORPUS_WORDS = [  # (pattern, corpus); first match wins, so the more specific come first
    (r"\bxquad\b.*\b(german|deutsch|de)\b|\b(german|deutsch)\b.*\bxquad\b|\bxquad[_ -]?de\b", "xquad_de"),
    (r"\bxquad\b|\bwikipedia\b", "xquad_en"),
    (r"\bpub ?med(qa)?\b|\bbiomedical\b|\babstracts\b", "pubmedqa"),
    (r"\blegal\b|\bopinions?\b|\bcourts?\b|\blaw\b|\bcase law\b", "legal"),
    (r"\balice\b|\bwonderland\b", "alice"),
]
TOKENIZER_WORDS = [  # (pattern, compare_tokenizers name)
    (r"\bgpt-?4o\b|\bo200k(_base)?\b", "o200k_base"),
    (r"\bgpt-?4\b(?!o)|\bgpt-?3\.5\b|\bcl100k(_base)?\b|\bchatgpt\b|\btiktoken\b", "cl100k_base"),
    (r"\bsmol ?lm2?\b|\bllama\b", "smollm2"),
    (r"\bbert\b|\bwordpiece\b|\bminilm\b", "bert-wordpiece"),
    (r"\bsentence ?piece\b|\bunigram\b", "sentencepiece"),
]
NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k\b|thousand\b)?"
ORDER_WORDS = {"unigram": 1, "bigram": 2, "trigram": 3}
POSITION_WORDS = {"rope": "rope", "rotary": "rope", "alibi": "alibi", "sinusoidal": "sinusoidal", "learned": "learned"}
JOB_ID = re.compile(r"\b((?:train_bpe|pretrain_minigpt)-[0-9a-f]{8})\b")


@dataclass
class Step:
    tool: str
    args: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)   # required arguments the request did not settle
    uses: dict = field(default_factory=dict)           # arg -> (index of an earlier step, key of its result)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _number(text: str) -> float:
    value, suffix = text
    number = float(value.replace(",", ""))
    return number * 1000 if suffix else number


def find_number(pattern_after: str, text: str, pattern_before: str | None = None) -> int | None:
    """The number right before `pattern_after` ("2,000-token", "2k tokens"), or after `pattern_before`
    ("vocab size of 2000").

    >>> find_number(r"[- ]?tokens?", "a 2,000-token BPE"), find_number(r"[- ]?tokens?", "2k tokens")
    (2000, 2000)
    >>> find_number(r"$^", "vocabulary of 512", r"vocab(?:ulary)?(?: size)?(?: of| =|:)?")
    512
    """
    match = re.search(NUMBER + r"\s*" + pattern_after, text)
    if match:
        return int(_number(match.groups()))
    if pattern_before:
        match = re.search(pattern_before + r"\s*" + NUMBER, text)
        if match:
            return int(_number(match.groups()))
    return None


def find_corpus(text: str) -> str | None:
    for pattern, corpus in CORPUS_WORDS:
        if re.search(pattern, text):
            return corpus
    return None


def find_tokenizers(text: str) -> list[str]:
    return [name for pattern, name in TOKENIZER_WORDS if re.search(pattern, text)]


def parse_request(request: str) -> Plan:
    text = request.lower()
    plan = Plan()
    corpus = find_corpus(text)
    max_chars = find_number(r"(?:characters|chars)\b", text)

    job = JOB_ID.search(request)
    if job and re.search(r"status|progress|done|finished|result|how is|check", text):
        plan.steps.append(Step("job_status", {"job_id": job.group(1)}))
        return plan

    wants_bpe = re.search(r"\bbpe\b|byte[- ]pair|\btokeni[sz]er\b", text) and re.search(r"\btrain|\bbuild|\bmake|\blearn|\bcreate", text)
    if wants_bpe:
        vocab = find_number(r"[- ]?(?:tokens?|vocab|merges?)\b", text,
                            r"vocab(?:ulary)?(?:[ _]size)?(?: of| =|:| with)?")
        args = {k: v for k, v in {"vocab_size": vocab, "corpus": corpus, "max_chars": max_chars}.items() if v is not None}
        plan.steps.append(Step("train_bpe_tokenizer", args, missing=[k for k in ("corpus", "vocab_size") if k not in args]))

    if re.search(r"\bcompar|\bversus\b|\bvs\.?\b|\bagainst\b|\bhow does it do\b", text) and (
            wants_bpe or re.search(r"tokeni[sz]er|bpe|gpt|cl100k|o200k", text)):
        names = (["ours-bpe"] if (wants_bpe or "our" in text or "bpe" in text) else []) + find_tokenizers(text)
        names = list(dict.fromkeys(names or ["ours-bpe", "cl100k_base"]))
        if names == ["ours-bpe"]:
            names.append("cl100k_base")
        args = {"names": names}
        if corpus:
            args["text_or_corpus"] = corpus
        if max_chars:
            args["max_chars"] = max_chars
        step = Step("compare_tokenizers", args, missing=[] if corpus else ["text_or_corpus"])
        if wants_bpe:
            step.uses = {"tokenizer_path": (0, "tokenizer_path")}
        plan.steps.append(step)

    order_word = next((n for w, n in ORDER_WORDS.items() if w in text), None)
    if re.search(r"n-?gram|\b\d-gram|unigram|bigram|trigram", text):
        order = order_word or find_number(r"-?gram\b", text) or find_number(r"$^", text, r"order(?: of| =|:)?")
        args = {k: v for k, v in {"corpus": corpus, "order": order, "max_chars": max_chars}.items() if v is not None}
        plan.steps.append(Step("train_ngram_model", args, missing=[] if corpus else ["corpus"]))

    if re.search(r"\bgpt\b|mini-?gpt|transformer|pretrain", text) and re.search(r"\btrain|pretrain|\bfit\b", text) \
            and not wants_bpe:
        steps = find_number(r"steps?\b", text)
        position = next((p for w, p in POSITION_WORDS.items() if re.search(rf"\b{w}\b", text)), None)
        args = {k: v for k, v in {"corpus": corpus, "steps": steps, "position": position,
                                  "max_chars": max_chars}.items() if v is not None}
        plan.steps.append(Step("pretrain_minigpt", args, missing=[] if corpus else ["corpus"]))
        index = len(plan.steps) - 1
        if re.search(r"sample|generate|write", text):
            plan.steps.append(Step("sample_text", {"prompt": ""}, uses={"checkpoint": (index, "checkpoint")}))
    return plan
