"""Loading files into SourceDocuments, and the errors for files that cannot be loaded."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from rag.documents import (
    SUPPORTED_SUFFIXES,
    DocumentError,
    SourceDocument,
    iter_documents,
    load_document,
)

HANDBOOK = Path(__file__).resolve().parents[2] / "data" / "handbook"


def make_pdf(path: Path, pages: list[str], **canvas_kwargs) -> Path:
    """A real PDF with one line of text per page (empty string: a page with no text)."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), **canvas_kwargs)
    for text in pages:
        if text:
            c.drawString(72, 720, text)
        else:
            c.rect(72, 600, 100, 100)  # something drawn, but no text layer
        c.showPage()
    c.save()
    return path


# --------------------------------------------------------------------------- formats


def test_markdown_loads_with_first_heading_as_title(tmp_path):
    f = tmp_path / "leave.md"
    f.write_text("Intro line\n\n# Annual Leave\n\nYou get 25 days.\n\n## Carry-over\n", "utf-8")

    doc = load_document(f)

    assert isinstance(doc, SourceDocument)
    assert doc.title == "Annual Leave"
    assert doc.source == str(f)
    assert "You get 25 days." in doc.text
    assert doc.metadata["format"] == "markdown"
    assert doc.metadata["bytes"] == f.stat().st_size
    assert doc.metadata["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()


def test_source_is_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("notes.md").write_text("# Notes\nhello\n", "utf-8")
    assert load_document("notes.md").source == "notes.md"


def test_title_falls_back_to_file_stem(tmp_path):
    f = tmp_path / "plain-notes.txt"
    f.write_text("no headings here, just text\n", "utf-8")
    assert load_document(f).title == "plain-notes"


def test_heading_inside_code_fence_is_not_the_title(tmp_path):
    f = tmp_path / "howto.md"
    f.write_text("```bash\n# install\npip install x\n```\n\n## Real Title\n", "utf-8")
    assert load_document(f).title == "Real Title"


def test_txt_with_setext_heading_and_bom(tmp_path):
    f = tmp_path / "travel.txt"
    f.write_bytes("Travel Policy\n=============\n\nBook 14 days ahead.\n".encode("utf-8-sig"))

    doc = load_document(f)

    assert doc.title == "Travel Policy"
    assert doc.text.startswith("Travel Policy")  # BOM removed
    assert doc.metadata["format"] == "text"


def test_suffix_is_case_insensitive(tmp_path):
    f = tmp_path / "SHOUTY.MD"
    f.write_text("# Loud\ntext\n", "utf-8")
    assert load_document(f).metadata["format"] == "markdown"


def test_html_drops_scripts_styles_and_nav_and_keeps_headings_on_own_lines(tmp_path):
    f = tmp_path / "remote.html"
    f.write_text(
        """<!DOCTYPE html><html><head><title>Remote Work</title>
        <style>body { color: red; }</style><script>var tracking = 1;</script></head>
        <body><nav><a href="/">Home</a> | <a href="/menu">Menu</a></nav>
        <!-- editor's note: not policy -->
        <h1>Remote   Work</h1><p>Core hours are
           10:00 to 15:00.</p>
        <h2>Stipend</h2><ul><li>EUR 600 once</li><li>EUR 25 monthly</li></ul>
        <table><tr><th>Item</th><th>Amount</th></tr><tr><td>Desk</td><td>EUR 600</td></tr></table>
        </body></html>""",
        "utf-8",
    )

    doc = load_document(f)
    lines = doc.text.splitlines()

    assert doc.title == "Remote Work"
    assert doc.metadata["format"] == "html"
    for unwanted in ("color: red", "tracking", "Menu", "editor's note", "<"):
        assert unwanted not in doc.text
    assert "# Remote Work" in lines
    assert "## Stipend" in lines
    assert "Core hours are 10:00 to 15:00." in lines  # source line break inside <p> removed
    assert "- EUR 600 once" in lines and "- EUR 25 monthly" in lines
    assert "Desk | EUR 600" in lines


def test_html_title_falls_back_to_first_h1(tmp_path):
    f = tmp_path / "page.htm"
    f.write_text("<body><h1>Benefits</h1><p>Pension: 6%.</p></body>", "utf-8")
    assert load_document(f).title == "Benefits"


def test_pdf_loads_pages_with_their_start_offsets(tmp_path):
    f = make_pdf(tmp_path / "policy.pdf", ["First page text.", "Second page: 25 days."])

    doc = load_document(f)

    assert doc.metadata["format"] == "pdf"
    assert doc.metadata["pages"] == 2
    starts = doc.metadata["page_starts"]
    assert len(starts) == 2 and starts[0] == 0
    assert doc.text[starts[0]:].startswith("First page text.")
    assert doc.text[starts[1]:].startswith("Second page: 25 days.")
    assert "\n\n" in doc.text[:starts[1]]  # pages joined with a blank line
    assert doc.title == "policy"  # reportlab's placeholder title "untitled" is ignored


def test_pdf_uses_document_title_from_metadata(tmp_path):
    from reportlab.pdfgen import canvas

    f = tmp_path / "x.pdf"
    c = canvas.Canvas(str(f))
    c.setTitle("Expenses Policy")
    c.drawString(72, 720, "Receipts within 30 days.")
    c.save()

    assert load_document(f).title == "Expenses Policy"


def test_pdf_protected_only_against_editing_still_loads(tmp_path):
    from reportlab.lib.pdfencrypt import StandardEncryption

    f = make_pdf(tmp_path / "locked.pdf", ["readable"],
                 encrypt=StandardEncryption("", ownerPassword="owner"))
    assert "readable" in load_document(f).text


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(DocumentError, match="not found") as err:
        load_document(tmp_path / "nope.md")
    assert "nope.md" in str(err.value)
    assert err.value.source == str(tmp_path / "nope.md")


def test_folder_given_to_load_document_points_at_iter_documents(tmp_path):
    with pytest.raises(DocumentError, match="iter_documents"):
        load_document(tmp_path)


@pytest.mark.parametrize("content", [b"", b"   \n\t\n  "])
def test_empty_or_whitespace_file(tmp_path, content):
    f = tmp_path / "blank.md"
    f.write_bytes(content)
    with pytest.raises(DocumentError, match="is empty") as err:
        load_document(f)
    assert "blank.md" in str(err.value)


def test_html_without_visible_text_is_empty(tmp_path):
    f = tmp_path / "shell.html"
    f.write_text("<html><head><title>T</title><script>x()</script></head><body></body></html>")
    with pytest.raises(DocumentError, match="is empty"):
        load_document(f)


def test_binary_file_named_txt(tmp_path):
    data = bytearray(random.Random(0).randbytes(4096))
    data[100] = 0  # make sure there is a NUL, as in any real binary
    f = tmp_path / "image.txt"
    f.write_bytes(bytes(data))

    with pytest.raises(DocumentError, match="looks binary") as err:
        load_document(f)
    assert "image.txt" in str(err.value) and "Save it as UTF-8" in str(err.value)


def test_mostly_undecodable_text_without_nuls_is_binary(tmp_path):
    f = tmp_path / "latin.md"
    f.write_bytes(bytes(range(0x80, 0x100)) * 4 + b"abc")
    with pytest.raises(DocumentError, match="looks binary"):
        load_document(f)


def test_windows_1252_text_is_read_with_a_warning(tmp_path, caplog):
    f = tmp_path / "mostly-fine.txt"
    f.write_bytes("Café opening hours are 08:00 to 18:00 – every weekday. ".encode("cp1252") * 3)
    doc = load_document(f)
    assert "Café opening hours" in doc.text and "–" in doc.text  # nothing replaced by U+FFFD
    assert doc.metadata["encoding"] == "cp1252"
    [warning] = doc.metadata["warnings"]
    assert "mostly-fine.txt" in warning and "not UTF-8" in warning and "encoding=" in warning
    assert "not UTF-8" in caplog.text


@pytest.mark.parametrize("codec, expected", [("utf-16", "utf-16"), ("utf-32", "utf-32"),
                                             ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
                                             ("utf-8", "utf-8")])
def test_unicode_encodings_are_detected(tmp_path, codec, expected):
    f = tmp_path / "notes.md"
    f.write_bytes("# Grüße\n\nLeave is 25 days — ask Zoë.\n".encode(codec))
    doc = load_document(f)
    assert doc.title == "Grüße" and "ask Zoë" in doc.text
    assert doc.metadata["encoding"] == expected and "warnings" not in doc.metadata


def test_explicit_encoding_wins_and_a_wrong_one_names_the_fix(tmp_path):
    f = tmp_path / "cyrillic.txt"
    f.write_bytes("Отпуск 25 дней".encode("koi8-r"))
    assert load_document(f, encoding="koi8-r").text == "Отпуск 25 дней"
    [item] = iter_documents([f], encoding="koi8-r")
    assert item.metadata["encoding"] == "koi8-r"
    with pytest.raises(DocumentError, match="cannot be decoded as ascii.*Leave the encoding out"):
        load_document(f, encoding="ascii")


def test_corrupt_pdf(tmp_path):
    f = tmp_path / "broken.pdf"
    f.write_bytes(random.Random(1).randbytes(3000))
    with pytest.raises(DocumentError, match="could not be read as PDF") as err:
        load_document(f)
    assert "broken.pdf" in str(err.value) and "re-export" in str(err.value)


def test_truncated_pdf(tmp_path):
    good = make_pdf(tmp_path / "good.pdf", ["hello"])
    f = tmp_path / "cut.pdf"
    f.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DocumentError, match="could not be read as PDF"):
        load_document(f)


def test_password_protected_pdf(tmp_path):
    from reportlab.lib.pdfencrypt import StandardEncryption

    f = make_pdf(tmp_path / "secret.pdf", ["hidden"],
                 encrypt=StandardEncryption("open-sesame", ownerPassword="owner"))
    with pytest.raises(DocumentError, match="encrypted") as err:
        load_document(f)
    assert "secret.pdf" in str(err.value)


def test_pdf_without_text_layer(tmp_path):
    f = make_pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(DocumentError, match="no text layer") as err:
        load_document(f)
    assert "OCR" in str(err.value)


def test_oversized_file_names_size_limit_and_fix(tmp_path):
    f = tmp_path / "big.md"
    f.write_text("# Big\n" + "word " * 400, "utf-8")

    with pytest.raises(DocumentError) as err:
        load_document(f, max_bytes=1000)
    message = str(err.value)

    assert "big.md" in message
    assert f"{f.stat().st_size} bytes" in message or "KiB" in message
    assert "1000 bytes" in message
    assert "max_bytes=" in message
    assert load_document(f, max_bytes=10_000).title == "Big"  # raising the limit works


def test_unknown_suffix_lists_supported_ones(tmp_path):
    f = tmp_path / "report.docx"
    f.write_bytes(b"PK\x03\x04 not really a docx")
    with pytest.raises(DocumentError) as err:
        load_document(f)
    message = str(err.value)
    assert "report.docx" in message and ".docx" in message
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in message


def test_document_error_is_a_value_error():
    assert issubclass(DocumentError, ValueError)


# --------------------------------------------------------------------------- batches


def test_folder_expansion_yields_errors_instead_of_raising(tmp_path):
    (tmp_path / "b-good.md").write_text("# Good\ncontent\n", "utf-8")
    (tmp_path / "a-empty.txt").write_bytes(b"")
    (tmp_path / "c-broken.pdf").write_bytes(b"%PDF-1.4 garbage garbage")
    (tmp_path / "ignored.docx").write_bytes(b"not loaded from a folder")
    (tmp_path / ".hidden.md").write_text("# Hidden\n", "utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "nested.html").write_text("<h1>Nested</h1><p>deep</p>", "utf-8")

    items = list(iter_documents([tmp_path]))

    names = [Path(i.source).name for i in items]
    assert names == ["a-empty.txt", "b-good.md", "c-broken.pdf", "nested.html"]  # sorted
    kinds = [type(i) for i in items]
    assert kinds == [DocumentError, SourceDocument, DocumentError, SourceDocument]
    assert "is empty" in str(items[0]) and "could not be read as PDF" in str(items[2])


def test_folder_expansion_without_recursion(tmp_path):
    (tmp_path / "top.md").write_text("# Top\n", "utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.md").write_text("# Deep\n", "utf-8")

    items = list(iter_documents([tmp_path], recursive=False))

    assert [i.title for i in items] == ["Top"]


def test_batch_reports_missing_unsupported_and_empty_folder(tmp_path):
    good = tmp_path / "good.md"
    good.write_text("# Good\n", "utf-8")
    unsupported = tmp_path / "sheet.xlsx"
    unsupported.write_bytes(b"x")
    empty_folder = tmp_path / "nothing"
    empty_folder.mkdir()

    items = list(iter_documents([tmp_path / "missing.md", unsupported, empty_folder, good]))

    assert [type(i) for i in items] == [DocumentError, DocumentError, DocumentError, SourceDocument]
    assert "not found" in str(items[0])
    assert "unsupported" in str(items[1])
    assert "no supported files" in str(items[2])


def test_batch_accepts_a_single_path_string(tmp_path):
    f = tmp_path / "one.md"
    f.write_text("# One\n", "utf-8")
    assert [d.title for d in iter_documents(str(f))] == ["One"]


def test_batch_passes_max_bytes_on(tmp_path):
    f = tmp_path / "one.md"
    f.write_text("# One\n" + "x" * 100, "utf-8")
    [item] = iter_documents([f], max_bytes=10)
    assert isinstance(item, DocumentError) and "max_bytes=" in str(item)


# --------------------------------------------------------------------------- sample data


def test_whole_handbook_loads():
    items = list(iter_documents([HANDBOOK]))

    errors = [i for i in items if isinstance(i, DocumentError)]
    assert errors == []
    assert len(items) == 12
    assert {d.metadata["format"] for d in items} == {"markdown", "text", "html"}
    assert all(d.title and d.title != Path(d.source).stem for d in items)
    leave = next(d for d in items if Path(d.source).name == "annual-leave.md")
    assert "25 days" in leave.text
    assert any("25 days" in d.text for d in items)


def test_docstring_examples():
    import doctest

    import rag.documents

    result = doctest.testmod(rag.documents)
    assert result.attempted >= 3 and result.failed == 0
