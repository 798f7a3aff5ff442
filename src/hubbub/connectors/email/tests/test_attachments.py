"""Which attachments `parse_email` keeps: the specification of `attachments`.

Executables (by their bytes or their name), archives that would expand into a
bomb and attachments over the size limits are refused with a reason and
without their content; every name is made only a name.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from urllib.parse import quote

import pytest

from hubbub.connectors.email.mime import MIB, Limits, parse_email
from hubbub.connectors.email.tests.mails import PNG, attachment_named, mail, sample, zip_of


def test_attachments_keep_their_name_types_size_and_content() -> None:
    parsed = sample("attachments.eml")

    invoice = attachment_named(parsed, "Rechnung 18842.pdf")
    assert invoice.declared_type == "application/pdf"
    assert invoice.sniffed_type == "application/pdf"
    assert invoice.content.startswith(b"%PDF-1.4")
    assert invoice.size == len(invoice.content) == 436
    assert invoice.rejected == ""
    assert not invoice.inline
    assert invoice.content_id == ""
    photo = attachment_named(parsed, "damaged box.png")
    assert photo.sniffed_type == "image/png"
    assert photo.content.startswith(b"\x89PNG")


def test_an_executable_posing_as_a_pdf_is_refused() -> None:
    parsed = sample("attachments.eml")

    program = attachment_named(parsed, "invoice.pdf.exe")
    assert program.rejected == "executable file type"
    assert program.sniffed_type == "application/x-msdownload"
    assert program.content == b""
    assert program.size == 114
    assert "attachment invoice.pdf.exe refused: executable file type" in parsed.problems
    assert parsed.text.startswith("Hello,")


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"MZ\x90\x00" + bytes(200), "statement.pdf"),
        (b"\x7fELF\x02\x01\x01" + bytes(200), "photo.jpg"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(200), "notes.txt"),
        (b"@echo off\r\ndel /q C:\\*\r\n", "run.bat"),
        (b"WScript.Echo 1", "Invoice.VBS"),
        (b"var x = 1;", "tracking.js"),
        (b"just text", "screen.scr"),
        (b"just text", "setup.msi"),
        (b"just text", "setup.exe. "),
    ],
)
def test_executables_are_refused_by_their_bytes_or_their_name(
    content: bytes, filename: str
) -> None:
    parsed = parse_email(mail(attachments=((content, "application/octet-stream", filename),)))

    (attachment,) = parsed.attachments
    assert attachment.rejected == "executable file type"
    assert attachment.content == b""


@pytest.mark.parametrize(
    ("raw_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\bob\\Desktop\\scan.png", "scan.png"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("bell\x07and\x1bescape.txt", "bellandescape.txt"),
        ("  ..hidden.txt  ", "hidden.txt"),
        ("/", "attachment"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
        ("y" * 300, "y" * 150),
    ],
)
def test_attachment_names_are_only_names(raw_name: str, expected: str) -> None:
    # RFC 2231 form, so every character arrives exactly as a sender wrote it.
    encoded = quote(raw_name, safe="")
    raw = (
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n"
        "--b\nContent-Type: application/pdf\n"
        f"Content-Disposition: attachment; filename*=UTF-8''{encoded}\n\n%PDF-1.4\n--b--\n"
    ).encode()

    (attachment,) = parse_email(raw).attachments

    assert attachment.filename == expected


def test_an_attachment_without_a_name_is_called_attachment() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n"
        b"--b\nContent-Type: application/pdf\n\n%PDF-1.4\n--b--\n"
    )

    (attachment,) = parse_email(raw).attachments

    assert attachment.filename == "attachment"


def test_a_30_mb_attachment_is_refused_and_the_rest_of_the_mail_is_read() -> None:
    huge = bytes(30 * MIB)
    raw = mail(
        text="See the attached scans.",
        attachments=((huge, "application/pdf", "scans.pdf"), (PNG, "image/png", "small.png")),
    )

    parsed = parse_email(raw)

    scans = attachment_named(parsed, "scans.pdf")
    assert scans.rejected == "over the 10 MB limit"
    assert scans.size == 30 * MIB
    assert scans.content == b""
    assert attachment_named(parsed, "small.png").content == PNG
    assert parsed.text == "See the attached scans.\n"
    assert parsed.subject == "Help"
    assert "attachment scans.pdf refused: over the 10 MB limit" in parsed.problems


def test_attachments_beyond_the_total_for_one_mail_are_refused() -> None:
    one_mib = bytes(MIB)
    raw = mail(
        attachments=tuple((one_mib, "application/octet-stream", f"part{n}.bin") for n in range(4))
    )

    parsed = parse_email(raw, limits=Limits(max_total_attachment_bytes=3 * MIB))

    assert [a.rejected for a in parsed.attachments] == [
        "",
        "",
        "",
        "over the 3 MB total for one email",
    ]
    assert parsed.attachments[3].content == b""


def test_a_zip_bomb_is_refused_without_being_extracted() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.bin", "w") as entry,
    ):
        megabyte_of_zeros = bytes(MIB)
        for _ in range(200):
            entry.write(megabyte_of_zeros)
    bomb = buffer.getvalue()
    assert len(bomb) < MIB

    parsed = parse_email(mail(attachments=((bomb, "application/zip", "photos.zip"),)))

    (attachment,) = parsed.attachments
    assert attachment.rejected == (
        "a compressed archive that expands more than 100 times (zip bomb)"
    )
    assert attachment.content == b""
    assert attachment.size == len(bomb)


def test_an_archive_that_expands_beyond_the_limit_is_refused() -> None:
    archive = zip_of({"random.bin": os.urandom(2 * MIB)})

    parsed = parse_email(
        mail(attachments=((archive, "application/zip", "data.zip"),)),
        limits=Limits(max_zip_uncompressed=MIB),
    )

    assert parsed.attachments[0].rejected == "a compressed archive that expands to more than 1 MB"


def test_an_ordinary_zip_is_kept() -> None:
    archive = zip_of({"notes.txt": b"some notes " * 100, "photo.png": PNG})

    (attachment,) = parse_email(
        mail(attachments=((archive, "application/zip", "files.zip"),))
    ).attachments

    assert attachment.rejected == ""
    assert attachment.content == archive


def test_a_zip_that_cannot_be_read_is_refused() -> None:
    broken = b"PK\x03\x04" + os.urandom(500)

    (attachment,) = parse_email(
        mail(attachments=((broken, "application/zip", "broken.zip"),))
    ).attachments

    assert attachment.rejected == "a compressed archive that could not be read"


def test_a_zip_holding_a_program_is_refused() -> None:
    archive = zip_of({"docs/readme.txt": b"read me", "docs/setup.exe": b"MZ" + bytes(100)})

    (attachment,) = parse_email(
        mail(attachments=((archive, "application/zip", "docs.zip"),))
    ).attachments

    assert (
        attachment.rejected == "a compressed archive that contains an executable file (setup.exe)"
    )


def test_a_gzip_bomb_is_refused_by_the_size_in_its_trailer() -> None:
    bomb = gzip.compress(bytes(20 * MIB), compresslevel=9)

    (attachment,) = parse_email(
        mail(attachments=((bomb, "application/gzip", "log.gz"),))
    ).attachments

    assert attachment.rejected == (
        "a compressed archive that expands more than 100 times (zip bomb)"
    )


def test_an_ordinary_gzip_is_kept() -> None:
    compressed = gzip.compress(os.urandom(10_000))

    (attachment,) = parse_email(
        mail(attachments=((compressed, "application/gzip", "log.gz"),))
    ).attachments

    assert attachment.rejected == ""
