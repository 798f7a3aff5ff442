"""What a file really is, read from its first bytes rather than from its name.

A customer's mail says what its attachments are (Content-Type, filename),
and either can lie: an "invoice.pdf" that is a Windows program, a "photo.png"
that is an HTML page which would run script if a browser showed it inline.
Hubbub decides what to refuse and what a browser may display from the bytes.
Only the safe inline types may ever be shown inline; SVG and HTML are
recognised precisely so callers can refuse to inline them.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from typing import Final

PNG: Final = "image/png"
JPEG: Final = "image/jpeg"
GIF: Final = "image/gif"
WEBP: Final = "image/webp"
SVG: Final = "image/svg+xml"
HTML: Final = "text/html"
TEXT: Final = "text/plain"
PDF: Final = "application/pdf"
ZIP: Final = "application/zip"
GZIP: Final = "application/gzip"
OCTET_STREAM: Final = "application/octet-stream"
WINDOWS_EXECUTABLE: Final = "application/x-msdownload"
ELF_EXECUTABLE: Final = "application/x-executable"
MACH_O_EXECUTABLE: Final = "application/x-mach-binary"
DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX: Final = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

# The only types a browser may show inline: raster images with no script in them.
SAFE_INLINE_TYPES: Final = frozenset({PNG, JPEG, GIF, WEBP})
EXECUTABLE_TYPES: Final = frozenset({WINDOWS_EXECUTABLE, ELF_EXECUTABLE, MACH_O_EXECUTABLE})
# Everything that is a zip container underneath, so its central directory can be inspected.
ZIP_TYPES: Final = frozenset(
    {
        ZIP,
        DOCX,
        XLSX,
        PPTX,
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)

# Text is judged on this much of the start: enough to be sure, cheap on large files.
_TEXT_WINDOW = 8 * 1024
_MARKUP_WINDOW = 1024

_SIMPLE_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
    (b"\x1f\x8b", GZIP),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"MZ", WINDOWS_EXECUTABLE),
    (b"\x7fELF", ELF_EXECUTABLE),
    (b"\xfe\xed\xfa\xce", MACH_O_EXECUTABLE),
    (b"\xfe\xed\xfa\xcf", MACH_O_EXECUTABLE),
    (b"\xce\xfa\xed\xfe", MACH_O_EXECUTABLE),
    (b"\xcf\xfa\xed\xfe", MACH_O_EXECUTABLE),
    # Universal (fat) Mach-O binaries; Java class files share the magic and are
    # programs too, so refusing both is the right outcome.
    (b"\xca\xfe\xba\xbe", MACH_O_EXECUTABLE),
)
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_BY_EXTENSION: Final = {
    "doc": "application/msword",
    "dot": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "msg": "application/vnd.ms-outlook",
    # Windows Installer packages are OLE files; they install programs.
    "msi": WINDOWS_EXECUTABLE,
}
_MP3_FRAME_SECOND_BYTES = frozenset({0xFB, 0xFA, 0xF3, 0xF2, 0xE3, 0xE2})
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")


def sniff(content: bytes, *, filename: str = "") -> str:
    """The MIME type `content` really has, judged from its magic numbers.

    `filename` only tells apart formats that share one container (legacy
    Office files); it never overrides what the bytes say. Unknown binary data
    is "application/octet-stream".
    """
    if not content:
        return OCTET_STREAM
    for magic, mime_type in _SIMPLE_MAGIC:
        if content.startswith(magic):
            return mime_type
    return (
        _sniff_riff(content)
        or _sniff_container(content, filename)
        or _sniff_media(content)
        or _sniff_text(content)
    )


def _sniff_riff(content: bytes) -> str:
    if not content.startswith(b"RIFF") or len(content) < 12:
        return ""
    return {b"WEBP": WEBP, b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
        content[8:12], OCTET_STREAM
    )


def _sniff_container(content: bytes, filename: str) -> str:
    if content.startswith(_ZIP_MAGICS):
        return _sniff_zip(content)
    if content.startswith(_OLE_MAGIC):
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        return _OLE_BY_EXTENSION.get(extension, "application/x-ole-storage")
    # BMP: "BM", then the file size, then four reserved bytes that are zero.
    if content.startswith(b"BM") and len(content) >= 26 and content[6:10] == b"\x00" * 4:
        return "image/bmp"
    return ""


def _sniff_zip(content: bytes) -> str:
    """Office documents are zips; their entry names say which kind."""
    opendocument = _opendocument_type(content)
    if opendocument:
        return opendocument
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except Exception:
        # Unreadable as a zip is still a zip by its magic; the attachment
        # checks refuse archives they cannot read.
        return ZIP
    if "[Content_Types].xml" in names:
        for prefix, mime_type in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
            if any(name.startswith(prefix) for name in names):
                return mime_type
    return ZIP


def _opendocument_type(content: bytes) -> str:
    # OpenDocument stores an uncompressed "mimetype" entry first, so its
    # value sits at a fixed offset right after the first local header.
    if content[30:38] != b"mimetype":
        return ""
    declared = content[38:120].split(b"PK", 1)[0].decode("ascii", "replace")
    if declared.startswith("application/vnd.oasis.opendocument."):
        return declared.strip()
    return ""


def _sniff_media(content: bytes) -> str:
    if content[4:8] == b"ftyp":
        brand = content[8:12]
        if brand == b"M4A ":
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"heic", b"heix", b"mif1"):
            return "image/heic"
        return "video/mp4"
    if len(content) > 1 and content[0] == 0xFF and content[1] in _MP3_FRAME_SECOND_BYTES:
        return "audio/mpeg"
    return ""


def _sniff_text(content: bytes) -> str:
    window = content[:_TEXT_WINDOW]
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return TEXT
    if b"\x00" in window or not _is_utf8(window):
        return OCTET_STREAM
    start = window.removeprefix(codecs.BOM_UTF8).lstrip()[:_MARKUP_WINDOW].lower()
    if start.startswith(b"<svg") or (start.startswith((b"<?xml", b"<!--")) and b"<svg" in start):
        return SVG
    if start.startswith(_HTML_STARTS):
        return HTML
    return TEXT


def _is_utf8(window: bytes) -> bool:
    # The window may cut a multi-byte character in two: decode incrementally
    # and do not count an unfinished character at the end as an error.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(window, final=False)
    except UnicodeDecodeError:
        return False
    return True
