"""Load files into plain text, with errors that say which file failed and how to fix it.

    from rag.documents import load_document, iter_documents, DocumentError

    doc = load_document("data/handbook/annual-leave.md")
    doc.title, doc.metadata["format"], doc.text[:80]

    # A batch keeps going past bad files: errors are yielded, not raised.
    for item in iter_documents(["data/handbook", "notes/extra.pdf"]):
        if isinstance(item, DocumentError):
            print("skipped:", item)
        else:
            print(item.source, len(item.text))

Supported formats: plain text and Markdown (UTF-8, UTF-16/32 with or without a byte-order
mark, or Windows-1252 / Latin-1 with a warning), HTML, and PDF with a text
layer. PDFs record where each page starts (`metadata["page_starts"]`, character
offsets into `text`) so that chunks and citations can name the page.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024
log = logging.getLogger(__name__)

_FORMATS = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
# Share of undecodable characters above which a "text" file is treated as binary.
# A few bad bytes (one stray Latin-1 character) should not reject a whole document.
_MAX_UNDECODABLE = 0.05


class DocumentError(ValueError):
    """A file that cannot be turned into text. The message names the file and the fix."""

    def __init__(self, message: str, *, source: str = ""):
        super().__init__(message)
        self.source = source


@dataclass
class SourceDocument:
    text: str
    source: str
    title: str
    metadata: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- loading


def load_document(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, encoding: str | None = None) -> SourceDocument:
    """Read one file into a SourceDocument, or raise DocumentError saying what to do.

    Text and Markdown files may be in any encoding `decode_text` detects, or the `encoding` given;
    `metadata["encoding"]` says which was used and `metadata["warnings"]` lists guesses.
    """
    source = str(path)
    p = Path(path)
    suffix = p.suffix.lower()

    if not p.exists():
        raise DocumentError(f"{source}: file not found. Check the path (relative paths are "
                            f"resolved from {Path.cwd()}).", source=source)
    if p.is_dir():
        raise DocumentError(f"{source}: is a folder, not a file. Use iter_documents() to load "
                            "every supported file in a folder.", source=source)
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{source}: unsupported file type {suffix or '(no suffix)'!r}. "
                            f"Supported: {', '.join(SUPPORTED_SUFFIXES)}; convert the file to one "
                            "of these first.", source=source)

    # Check the size before reading so a huge file is refused without loading it.
    size = p.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"{source}: file is {_human_bytes(size)}, above the limit of "
                            f"{_human_bytes(max_bytes)}. Split the file, or raise the limit with "
                            f"max_bytes= (for example max_bytes={_suggest_limit(size)}).",
                            source=source)
    if size == 0:
        raise _empty(source)

    data = p.read_bytes()
    fmt = _FORMATS[suffix]
    metadata = {"format": fmt, "bytes": size, "sha256": hashlib.sha256(data).hexdigest()}

    if fmt == "pdf":
        text, title, pdf_meta = _read_pdf(data, source)
        metadata.update(pdf_meta)
    elif fmt == "html":
        text, title = _read_html(data, source)
    else:
        text, used, warnings = decode_text(data, source, encoding)
        metadata["encoding"] = used
        if warnings:
            metadata["warnings"] = warnings
            for warning in warnings:
                log.warning(warning)
        title = _markdown_title(text)

    if not text.strip():
        raise _empty(source)
    return SourceDocument(text=text, source=source, title=title or p.stem, metadata=metadata)


def iter_documents(paths: Iterable[str | Path], *, recursive: bool = True, max_bytes: int = MAX_FILE_BYTES,
                   encoding: str | None = None) -> Iterator[SourceDocument | DocumentError]:
    """Load files and folders one by one, yielding a DocumentError for each failure.

    Folders expand to their supported files in sorted order (into subfolders too
    when `recursive`); files named explicitly are always tried, so an unsupported
    one is reported rather than silently skipped.
    """
    if isinstance(paths, (str, Path)):
        # A bare string would otherwise be iterated character by character.
        paths = [paths]
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files = _expand_folder(p, recursive)
            if not files:
                yield DocumentError(f"{path}: folder contains no supported files "
                                    f"({', '.join(SUPPORTED_SUFFIXES)}). Add files or point "
                                    "at another folder.", source=str(path))
            for f in files:
                yield _try_load(f, max_bytes, encoding)
        else:
            yield _try_load(path, max_bytes, encoding)


def _try_load(path: str | Path, max_bytes: int, encoding: str | None) -> SourceDocument | DocumentError:
    try:
        return load_document(path, max_bytes=max_bytes, encoding=encoding)
    except DocumentError as err:
        return err
    except OSError as err:  # permissions, a file removed mid-batch, ...
        return DocumentError(f"{path}: could not be read ({err.strerror or err}). Check that the "
                             "file exists and is readable.", source=str(path))


def _expand_folder(folder: Path, recursive: bool) -> list[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        f for f in candidates
        if f.is_file()
        and f.suffix.lower() in SUPPORTED_SUFFIXES
        # Hidden files and folders (.git, .venv, editor backups) are never content.
        and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    )


# --------------------------------------------------------------------------- text and Markdown


_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters that never occur in text (tab, newlines and form feed excluded); C1 controls
# (U+0080-U+009F) are what binary bytes become when read as Latin-1.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def decode_text(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str, list[str]]:
    """Bytes of a text file -> (text, encoding used, warnings).

    Tried in order: the `encoding` given, a byte-order mark (UTF-8, UTF-16, UTF-32), UTF-8,
    UTF-16 without a mark (every other byte NUL), then Windows-1252 / Latin-1 with a warning,
    since those accept any byte and can be wrong. Bytes that decode only to control characters
    are binary: DocumentError.

    >>> decode_text("Café".encode("utf-16"), "x.txt")[:2]
    ('Café', 'utf-16')
    >>> text, used, warnings = decode_text(b"Caf\\xe9 au lait", "x.txt")
    >>> text, used, len(warnings)
    ('Café au lait', 'cp1252', 1)
    """
    if encoding:
        try:
            return data.decode(encoding), encoding, []
        except (UnicodeDecodeError, LookupError) as err:
            raise DocumentError(f"{source}: cannot be decoded as {encoding} ({err}). Leave the encoding "
                                "out to detect it, or name the file's real encoding.", source=source) from err
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec, []
            except UnicodeDecodeError:
                break  # a mark followed by garbage: fall through to the checks below
    try:
        return _text_or_binary(data.decode("utf-8"), source), "utf-8", []
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(data)
    if utf16:
        return _text_or_binary(data.decode(utf16), source), utf16, []
    if b"\x00" in data:
        raise _binary(source)
    for codec in ("cp1252", "latin-1"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        warning = (f"{source}: not UTF-8; read as {codec}. If accented letters look wrong, convert the file "
                   f"(iconv -f REAL_ENCODING -t UTF-8) or pass encoding=\"...\".")
        return _text_or_binary(text, source), codec, [warning]
    raise _binary(source)  # unreachable: latin-1 decodes every byte


def _text_or_binary(text: str, source: str) -> str:
    if len(_CONTROL.findall(text)) > _MAX_UNDECODABLE * max(len(text), 1):
        raise _binary(source)
    return text


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when the bytes look like mostly-ASCII UTF-16 without a mark."""
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls, odd_nuls = data[0::2].count(0), data[1::2].count(0)
    half = len(data) // 2
    for codec, nuls, other in (("utf-16-le", odd_nuls, even_nuls), ("utf-16-be", even_nuls, odd_nuls)):
        if nuls > 0.7 * half and other < 0.05 * half:
            try:
                data.decode(codec)
            except UnicodeDecodeError:
                return None
            return codec
    return None


_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _markdown_title(text: str) -> str:
    """First ATX (`# Title`) or setext (`Title` over `=====`) heading, outside code fences."""
    lines = text.splitlines()
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _ATX_HEADING.match(line)
        if m:
            return m.group(1).strip()
        if (line.strip() and i + 1 < len(lines) and _SETEXT_UNDERLINE.match(lines[i + 1])
                and not line.lstrip().startswith(("-", "*", "|", ">"))):
            return line.strip()
    return ""


# --------------------------------------------------------------------------- HTML

_DROP_TAGS = ("script", "style", "nav", "noscript", "template", "head")
_BLOCK_TAGS = ("p", "div", "section", "article", "main", "header", "footer", "aside",
               "table", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "figure",
               "figcaption", "form", "hr", "address")


def _read_html(data: bytes, source: str) -> tuple[str, str]:
    from bs4 import BeautifulSoup, NavigableString

    if b"\x00" in data:
        raise _binary(source)
    soup = BeautifulSoup(data, "html.parser")

    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(" ", strip=True)
    elif soup.find("h1"):
        title = soup.find("h1").get_text(" ", strip=True)

    for tag in soup(list(_DROP_TAGS) + ["title"]):
        tag.decompose()

    # Source line breaks inside a paragraph are layout, not meaning: flatten them
    # first, so that the only newlines left are the block breaks added below.
    for s in list(soup.find_all(string=True)):
        # Exact type: comments and the doctype are subclasses and must stay non-text.
        if type(s) is NavigableString and not s.find_parent("pre"):
            s.replace_with(re.sub(r"\s+", " ", str(s)))

    # Headings become Markdown headings so the chunker can split HTML at sections
    # exactly as it does Markdown.
    for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        h.insert_before("\n\n" + "#" * int(h.name[1]) + " ")
        h.insert_after("\n\n")
    # Items and rows get a line break only before them, so that lists and tables
    # stay tight; the enclosing <ul>/<table> adds the blank line around the block.
    for li in soup.find_all("li"):
        li.insert_before("\n- ")
    for tr in soup.find_all("tr"):
        cells = [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
        tr.replace_with("\n" + " | ".join(cells))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")

    return _tidy_lines(soup.get_text()), title


def _tidy_lines(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- PDF


def _read_pdf(data: bytes, source: str) -> tuple[str, str, dict]:
    from pypdf import PdfReader

    unreadable = DocumentError(
        f"{source}: could not be read as PDF (the file is damaged or not really a PDF). "
        "Open it in a PDF viewer and re-export it (Print > Save as PDF), then try again.",
        source=source)
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as err:  # pypdf raises many types on malformed input
        raise unreadable from err

    if encrypted:
        _decrypt_or_fail(reader, source)

    try:
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as err:
        raise unreadable from err

    if not any(p.strip() for p in pages):
        raise DocumentError(
            f"{source}: has no text layer (scanned?) - none of its {len(pages)} page(s) contain "
            "extractable text. Run OCR first (for example `ocrmypdf in.pdf out.pdf`) and load "
            "the result.", source=source)

    # Every page gets an offset, blank ones too, so page_starts[i] is page i + 1.
    text_parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for page_text in pages:
        page_text = page_text.strip()
        page_starts.append(offset)
        text_parts.append(page_text)
        offset += len(page_text) + 2  # the "\n\n" joiner
    text = "\n\n".join(text_parts)

    return text, _pdf_title(reader), {"pages": len(pages), "page_starts": page_starts}


def _decrypt_or_fail(reader, source: str) -> None:
    # Many PDFs are "encrypted" only against editing, with an empty open password;
    # those read fine once decrypted with "".
    try:
        if reader.decrypt(""):
            return
    except Exception:
        pass
    raise DocumentError(
        f"{source}: is encrypted (password-protected PDF). Remove the password (open it and "
        "save an unprotected copy, or `qpdf --decrypt --password=... in.pdf out.pdf`) and load "
        "that copy.", source=source)


def _pdf_title(reader) -> str:
    try:
        title = (reader.metadata or {}).get("/Title") or ""
    except Exception:
        return ""
    title = str(title).strip()
    # Some writers (reportlab among them) stamp a placeholder title.
    return "" if title.lower() in ("untitled", "untitled document") else title


def page_for_offset(page_starts: list[int], offset: int) -> int:
    """1-based page number containing character `offset` of a PDF document's text."""
    from bisect import bisect_right

    return max(1, bisect_right(page_starts, offset))


# --------------------------------------------------------------------------- messages


def _empty(source: str) -> DocumentError:
    return DocumentError(f"{source}: is empty (no text after loading). Add content or remove "
                         "the file from the batch.", source=source)


def _binary(source: str) -> DocumentError:
    return DocumentError(f"{source}: looks binary, not text in any encoding tried (UTF-8/16/32, Windows-1252). "
                         f"Save it as UTF-8 text, or give it the right suffix if it is another format "
                         f"({', '.join(SUPPORTED_SUFFIXES)}).", source=source)


def _human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    return f"{n} bytes"  # unreachable; keeps type checkers content


def _suggest_limit(size: int) -> str:
    """A round number of MiB comfortably above `size`, to paste into max_bytes=."""
    return f"{(size // (1024 * 1024) + 1) * 2} * 1024 * 1024"
