"""What a file is, told from its bytes: the specification of `sniff`."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from hubbub.connectors.email.sniff import (
    EXECUTABLE_TYPES,
    SAFE_INLINE_TYPES,
    ZIP_TYPES,
    sniff,
)

SAMPLES = Path(__file__).parent / "samples"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def opendocument(mime_type: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # OpenDocument requires "mimetype" first and stored, not compressed.
        archive.writestr("mimetype", mime_type, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG_BYTES, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (
            b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00" + b"\x28" + b"\x00" * 11,
            "image/bmp",
        ),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"\x00\x00\x01\x00\x01\x00\x10\x10", "image/vnd.microsoft.icon"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (gzip.compress(b"hello"), "application/gzip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
        (b"OggS\x00\x02\x00\x00", "audio/ogg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    ],
)
def test_common_formats_are_known_by_their_magic_numbers(content: bytes, expected: str) -> None:
    assert sniff(content) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01\x00", "application/x-executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "application/x-mach-binary"),
        (b"\xfe\xed\xfa\xce\x00\x00\x00\x12", "application/x-mach-binary"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", "application/x-mach-binary"),
    ],
)
def test_executables_are_recognised_whatever_they_are_called(content: bytes, expected: str) -> None:
    assert sniff(content, filename="invoice.pdf") == expected
    assert expected in EXECUTABLE_TYPES


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("word/document.xml", "wordprocessingml.document"),
        ("xl/workbook.xml", "spreadsheetml.sheet"),
        ("ppt/presentation.xml", "presentationml.presentation"),
    ],
)
def test_office_documents_are_told_apart_by_their_zip_entries(folder: str, expected: str) -> None:
    content = zip_of({"[Content_Types].xml": b"<Types/>", folder: b"<x/>"})

    sniffed = sniff(content, filename="whatever.zip")

    assert sniffed == f"application/vnd.openxmlformats-officedocument.{expected}"
    assert sniffed in ZIP_TYPES


def test_a_plain_zip_is_a_zip() -> None:
    assert sniff(zip_of({"notes.txt": b"hello"})) == "application/zip"


def test_a_damaged_zip_is_still_a_zip_by_its_magic() -> None:
    assert sniff(b"PK\x03\x04" + b"\x00" * 40) == "application/zip"


def test_opendocument_files_name_their_type_in_the_first_entry() -> None:
    content = opendocument("application/vnd.oasis.opendocument.text")

    assert sniff(content) == "application/vnd.oasis.opendocument.text"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("report.doc", "application/msword"),
        ("budget.XLS", "application/vnd.ms-excel"),
        ("slides.ppt", "application/vnd.ms-powerpoint"),
        ("setup.msi", "application/x-msdownload"),
        ("unknown.bin", "application/x-ole-storage"),
    ],
)
def test_legacy_office_files_share_one_container_told_apart_by_name(
    filename: str, expected: str
) -> None:
    content = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100

    assert sniff(content, filename=filename) == expected


@pytest.mark.parametrize(
    "content",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"\xef\xbb\xbf  \n<SVG onload=alert(1)>",
        b"<!-- drawn by hand -->\n<svg/>",
    ],
)
def test_svg_is_recognised_so_it_is_never_shown_inline(content: bytes) -> None:
    assert sniff(content, filename="photo.png") == "image/svg+xml"
    assert "image/svg+xml" not in SAFE_INLINE_TYPES


@pytest.mark.parametrize(
    "content",
    [b"<!DOCTYPE html><html><body>hi", b"  <HTML><script>alert(1)</script>", b"<body onload=x>"],
)
def test_html_is_recognised(content: bytes) -> None:
    assert sniff(content, filename="picture.jpg") == "text/html"


def test_utf8_text_is_plain_text() -> None:
    assert sniff("Grüße aus Köln\n".encode()) == "text/plain"


def test_text_is_judged_on_its_start_even_when_a_character_is_cut_there() -> None:
    # "é" is two bytes; the 8 KiB window ends between them.
    content = b"a" * (8 * 1024 - 1) + "é".encode() + b" and more"

    assert sniff(content) == "text/plain"


def test_a_nul_byte_makes_it_binary() -> None:
    assert sniff(b"looks like text\x00but is not") == "application/octet-stream"


def test_bytes_that_are_not_utf8_are_binary() -> None:
    assert sniff(b"\x80\x81\x82 not text") == "application/octet-stream"


def test_nothing_at_all_is_an_octet_stream() -> None:
    assert sniff(b"") == "application/octet-stream"


def test_the_name_never_overrides_the_bytes() -> None:
    text = (SAMPLES / "latin1.eml").read_bytes()

    assert sniff(PNG_BYTES, filename="virus.exe") == "image/png"
    assert sniff(text, filename="photo.png") == "text/plain"


def test_only_raster_images_may_be_shown_inline() -> None:
    assert frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"}) == SAFE_INLINE_TYPES
