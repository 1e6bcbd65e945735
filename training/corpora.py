"""Text corpora for the labs, read from the public data sets in ../shared/data.

    from training.corpora import load_corpus
    text = load_corpus("legal")                  # the three legal opinions, joined
    text = load_corpus("alice", max_chars=50_000)
    text = load_corpus("/path/to/any.txt")       # or any UTF-8 text file / folder of .txt files

Names: legal, alice, xquad_en, xquad_de, pubmedqa. Set HEARTH_DATA (or pass `data_root_path`) to
read the data sets from another folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.settings import shared_data


class CorpusError(ValueError):
    """A corpus name or path that cannot be read."""


def _squad_contexts(path: Path) -> str:
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    return "\n\n".join(p["context"] for a in articles for p in a["paragraphs"])


def _pubmedqa_abstracts(path: Path) -> str:
    records = json.loads(path.read_text(encoding="utf-8"))
    return "\n\n".join(" ".join(r["CONTEXTS"]) for r in records.values())


def _gutenberg_body(text: str) -> str:
    """Drop Project Gutenberg's licence header and footer when present."""
    start, end = text.find("*** START OF"), text.find("*** END OF")
    if start != -1:
        text = text[text.find("\n", start) + 1:end if end != -1 else None]
    return text.strip()


CORPORA = {
    "legal": ("legal_opinions_eyecite", lambda d: "\n\n".join(
        p.read_text(encoding="utf-8") for p in sorted(d.glob("*.txt")))),
    "alice": ("alice_wonderland", lambda d: _gutenberg_body((d / "pg11.txt").read_text(encoding="utf-8"))),
    "xquad_en": ("xquad", lambda d: _squad_contexts(d / "xquad.en.dev.json")),
    "xquad_de": ("xquad", lambda d: _squad_contexts(d / "xquad.de.json")),
    "pubmedqa": ("pubmedqa_pqal", lambda d: _pubmedqa_abstracts(d / "ori_pqal.json")),
}


def load_corpus(name_or_path: str, *, max_chars: int | None = None, data_root_path: str | Path | None = None) -> str:
    """The text of a named corpus (see CORPORA) or of a UTF-8 file / folder of .txt files."""
    if name_or_path in CORPORA:
        folder_name, read = CORPORA[name_or_path]
        folder = Path(data_root_path or shared_data()) / folder_name
        if not folder.is_dir():
            raise CorpusError(f"Data set folder {str(folder)!r} is missing. Set HEARTH_DATA to the folder that holds "
                              f"{folder_name}/ (the project expects ../shared/data beside the repository).")
        text = read(folder)
    else:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            files = sorted(path.rglob("*.txt"))
            if not files:
                raise CorpusError(f"No .txt files under {str(path)!r}.")
            text = "\n\n".join(_read_utf8(p) for p in files)
        elif path.is_file():
            text = _read_utf8(path)
        else:
            raise CorpusError(f"Unknown corpus {name_or_path!r}: use one of {', '.join(CORPORA)} or a path to a text file.")
    return text[:max_chars] if max_chars else text


def _read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{str(path)!r} is not UTF-8 text (byte {exc.start}). Convert it, e.g. "
                          f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8.txt`.") from exc
