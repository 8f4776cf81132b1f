"""Tests for tasks.read.engine: discovering, reading and decoding source files."""

import codecs
import hashlib
import os
import random
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.tables import ACCEPTED_QUARANTINE_STAGES
from tasks.documents import SourceFile
from tasks.read.engine import (
    DecodeRejected,
    SourceListing,
    SourceNotFoundError,
    decode_bytes,
    discover_files,
    normalize_text,
    read_document,
    sha256_file,
)
from tasks.settings import Settings

SETTINGS = Settings()
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
PROSE = "The council met on Monday and voted to approve the budget for next year, officials said.\n"


def write(path: Path, data: bytes | str) -> Path:
    """Write bytes (or UTF-8 text) to path, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def source_for(path: Path) -> SourceFile:
    """A SourceFile for an existing file."""
    return SourceFile(path=path, source_uri=path.resolve().as_uri(), size_bytes=path.stat().st_size)


def read_bytes_as_document(tmp_path: Path, data: bytes, settings: Settings = SETTINGS):
    """Write data to a file and read it back as a DecodedDocument."""
    return read_document(source_for(write(tmp_path / "input.txt", data)), settings)


# --- discover_files ---------------------------------------------------------------------------


def test_discover_walks_folder_recursively_sorted_with_uris_and_sizes(tmp_path):
    root = tmp_path / "src"
    write(root / "b.txt", "bb")
    write(root / "a b" / "x.txt", "xxx")
    write(root / "a" / "deeper" / "y.txt", "y")
    write(root / "a" / "z.txt", "")

    files = discover_files([root])

    names = [file.path.relative_to(root.resolve()).as_posix() for file in files]
    assert names == ["a/deeper/y.txt", "a/z.txt", "a b/x.txt", "b.txt"]
    assert files == sorted(files, key=lambda file: file.path)
    assert [file.size_bytes for file in files] == [1, 0, 3, 2]
    assert all(file.source_uri == file.path.resolve().as_uri() for file in files)


def test_source_listing_gives_back_the_listed_files_in_batches(tmp_path):
    root = tmp_path / "src"
    for number in range(7):
        write(root / f"part {number % 3}" / f"é{number}.txt", "x" * number)
    files = [*discover_files([root]), SourceFile(Path("b/k.txt"), "s3://b/k.txt", 12)]
    listing = SourceListing(files)
    assert len(listing) == 8
    batches = list(listing.batches(3))
    assert [len(batch) for batch in batches] == [3, 3, 2]
    assert [file for batch in batches for file in batch] == files
    assert all(isinstance(file.path, Path) for batch in batches for file in batch)
    assert listing.batch(6, 100) == files[6:]
    assert list(SourceListing([]).batches(3)) == []


def test_discover_takes_a_file_given_directly_even_if_hidden(tmp_path):
    hidden = write(tmp_path / ".hidden.txt", "hello")
    assert discover_files([str(hidden)]) == [
        SourceFile(
            path=hidden.resolve(),
            source_uri=hidden.resolve().as_uri(),
            size_bytes=5,
            modified_ns=hidden.stat().st_mtime_ns,
        )
    ]


def test_discover_missing_source_raises_with_one_line_message(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SourceNotFoundError, match=r"^source not found: .*nowhere$"):
        discover_files([tmp_path, missing])


def test_discover_rejects_a_source_that_is_neither_file_nor_folder(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(SourceNotFoundError, match="neither a file nor a folder"):
        discover_files([fifo])


def test_discover_skips_hidden_files_hidden_folders_and_special_files(tmp_path):
    write(tmp_path / "visible.txt", "kept")
    write(tmp_path / ".hidden.txt", "skipped")
    write(tmp_path / ".git" / "objects.txt", "skipped")
    write(tmp_path / "sub" / ".DS_Store", "skipped")
    os.mkfifo(tmp_path / "pipe")

    assert [file.path.name for file in discover_files([tmp_path])] == ["visible.txt"]


def test_discover_lists_a_file_once_across_repeated_sources(tmp_path):
    write(tmp_path / "a.txt", "a")
    write(tmp_path / "sub" / "b.txt", "b")

    files = discover_files([tmp_path, tmp_path / "sub", tmp_path / "a.txt", str(tmp_path)])

    assert [file.path.name for file in files] == ["a.txt", "b.txt"]


def test_discover_skips_symlinked_file_pointing_outside_the_folder(tmp_path):
    outside = write(tmp_path / "outside" / "secret.txt", "not yours")
    root = tmp_path / "src"
    write(root / "kept.txt", "kept")
    (root / "link.txt").symlink_to(outside)

    assert [file.path.name for file in discover_files([root])] == ["kept.txt"]


def test_discover_reads_symlinked_file_inside_the_folder_under_the_link_name(tmp_path):
    root = tmp_path / "src"
    write(root / ".store" / "blob", "stored text")
    link = root / "article.txt"
    link.symlink_to(Path(".store") / "blob")

    files = discover_files([root])

    assert len(files) == 1
    assert files[0].path.name == "article.txt"
    assert files[0].source_uri == (root.resolve() / "article.txt").as_uri()
    assert files[0].size_bytes == len("stored text")
    assert read_document(files[0], SETTINGS).text == "stored text"


def test_discover_lists_symlink_and_its_visible_target_once_as_the_target(tmp_path):
    target = write(tmp_path / "real.txt", "text")
    (tmp_path / "alias.txt").symlink_to(target)

    assert [file.path.name for file in discover_files([tmp_path])] == ["real.txt"]


def test_discover_does_not_follow_symlinked_folders(tmp_path):
    root = tmp_path / "src"
    write(root / "dir" / "a.txt", "a")
    write(tmp_path / "elsewhere" / "b.txt", "b")
    (root / "inside_alias").symlink_to(root / "dir", target_is_directory=True)
    (root / "outside_alias").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    assert [file.path.name for file in discover_files([root])] == ["a.txt"]


def test_discover_handles_odd_file_names(tmp_path):
    names = ["with space.txt", "ünïcödé 日本.txt", "100% #1?.txt", "semi;colon&amp.txt"]
    try:
        write(tmp_path / "new\nline.txt", "newline")
        names.append("new\nline.txt")
    except OSError:
        pass  # the file system does not allow a newline in a name
    for name in names:
        write(tmp_path / name, f"text of {name}")

    files = discover_files([tmp_path])

    assert sorted(file.path.name for file in files) == sorted(names)
    for file in files:
        assert file.source_uri == file.path.resolve().as_uri()
        assert read_document(file, SETTINGS).text == f"text of {file.path.name}"


# --- sha256_file --------------------------------------------------------------------------------


def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path):
    data = random.Random(0).randbytes(3 * 1024 * 1024 + 17)
    assert sha256_file(write(tmp_path / "blob.bin", data)) == hashlib.sha256(data).hexdigest()


# --- decode_bytes -------------------------------------------------------------------------------

ACCEPTED = [
    ("utf-8", "Grüße aus Köln – “quoted”\n".encode(), "Grüße aus Köln – “quoted”\n", "utf-8"),
    ("utf-8 bom", codecs.BOM_UTF8 + "café".encode(), "café", "utf-8-sig"),
    ("utf-16 le bom", codecs.BOM_UTF16_LE + "café – naïve".encode("utf-16-le"), "café – naïve",
     "utf-16-le"),
    ("utf-16 be bom", codecs.BOM_UTF16_BE + "café – naïve".encode("utf-16-be"), "café – naïve",
     "utf-16-be"),
    ("utf-32 le bom", codecs.BOM_UTF32_LE + "café".encode("utf-32-le"), "café", "utf-32-le"),
    ("utf-16 le no bom", "Hello world, café – naïve\nline two".encode("utf-16-le"),
     "Hello world, café – naïve\nline two", "utf-16-le"),
    ("utf-16 be no bom", "Hello world, café – naïve\nline two".encode("utf-16-be"),
     "Hello world, café – naïve\nline two", "utf-16-be"),
    ("utf-16 le no bom ascii", "Plain ASCII text\nline two".encode("utf-16-le"),
     "Plain ASCII text\nline two", "utf-16-le"),
    ("cp1252", "café – naïve".encode("cp1252"), "café – naïve", "cp1252"),
    ("cp1252 quotes", "Über naïve Straße – “Zitat” … €5".encode("cp1252"),
     "Über naïve Straße – “Zitat” … €5", "cp1252"),
    ("latin-1", "Crème brûlée à Noël, façade".encode("latin-1"), "Crème brûlée à Noël, façade",
     "cp1252"),
    ("cp1253 greek", "Ελληνικά κείμενο εδώ, και άλλα πολλά λόγια εδώ".encode("cp1253"),
     "Ελληνικά κείμενο εδώ, και άλλα πολλά λόγια εδώ", "cp1253"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "text", "encoding"), [case[1:] for case in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_decode_bytes_decodes_known_encodings(data, text, encoding):
    assert decode_bytes(data, SETTINGS) == (text, encoding)


BINARY_MAGIC = [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
    (b"GIF89a\x01\x00\x01\x00", "GIF image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
    (b"%PDF-1.7\n%text-like header\n", "PDF document"),
    (b"PK\x03\x04\x14\x00\x00\x00", "ZIP archive"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip archive"),
]


@pytest.mark.parametrize(("data", "kind"), BINARY_MAGIC)
def test_decode_bytes_rejects_known_binary_formats(data, kind):
    with pytest.raises(DecodeRejected) as caught:
        decode_bytes(data + PROSE.encode(), SETTINGS)
    rejection = caught.value.rejection
    assert (rejection.stage, rejection.check_name) == ("decode", "binary_content")
    assert rejection.error == (
        f"file looks binary ({kind}), not text: remove it from the source or convert it to text"
    )


REJECTED = [
    ("zero bytes", b"", "empty_file"),
    ("whitespace only", b" \n\t \r\n  \n", "empty_file"),
    ("bom only", codecs.BOM_UTF8, "empty_file"),
    ("invisible only", "\u200b\u00a0\n\ufeff".encode(), "empty_file"),
    ("random bytes", random.Random(0).randbytes(4096), "binary_content"),
    ("nul heavy utf-8", (PROSE[:40] + "\x00\x00\x00") .encode() * 20, "binary_content"),
    ("undecodable", bytes(range(0x80, 0x100)) * 4, "undecodable"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "check_name"), [case[1:] for case in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_decode_bytes_rejects_unusable_input(data, check_name):
    with pytest.raises(DecodeRejected) as caught:
        decode_bytes(data, SETTINGS)
    assert caught.value.rejection.stage == "decode"
    assert caught.value.rejection.check_name == check_name
    assert str(caught.value) == caught.value.rejection.error


def test_decode_bytes_empty_message_says_nothing_to_clean():
    with pytest.raises(DecodeRejected) as caught:
        decode_bytes(b"   \n", SETTINGS)
    assert caught.value.rejection.error == "file is empty: nothing to clean"


def test_decode_bytes_names_the_control_share_of_binary_content():
    with pytest.raises(DecodeRejected, match=r"file looks binary \(\d+\.\d% control"):
        decode_bytes(random.Random(0).randbytes(4096), SETTINGS)


def test_decode_bytes_removes_a_few_stray_nul_bytes():
    data = (PROSE * 3).replace("Monday", "Mon\x00day", 1).encode()
    text, encoding = decode_bytes(data, SETTINGS)
    assert (text, encoding) == (PROSE * 3, "utf-8")


def test_decode_bytes_control_ratio_threshold_comes_from_settings():
    data = ("word " * 20 + "\x01").encode()  # 1 control character in 101
    assert decode_bytes(data, SETTINGS)[0] == "word " * 20
    with pytest.raises(DecodeRejected, match="binary"):
        decode_bytes(data, replace(SETTINGS, max_control_char_ratio=0.005))


# --- normalize_text -------------------------------------------------------------------------------

NORMALIZED = [
    ("no-break space", "a\u00a0b", "a b"),
    ("narrow no-break space", "10\u202f000", "10 000"),
    ("figure space", "1\u20070", "1 0"),
    ("tab", "a\tb", "a b"),
    ("line separator", "a\u2028b\u2029c", "a b c"),
    ("zero width", "".join(f"x{char}" for char in ZERO_WIDTH), "xxxxx"),
    ("nul and controls", "a\x00b\x07c\x0bd\x0ce\x1bf\x7fg\x85h", "abcdefgh"),
    ("crlf", "a\r\nb\r\n", "a\nb\n"),
    ("lone cr", "a\rb\r\rc", "a\nb\n\nc"),
    ("nfc", "cafe\u0301 n\u0303", "café ñ"),
    ("zero width inside combining sequence", "e\u200b\u0301", "é"),
    ("blank lines and edge spaces kept", "  a  \n\n\n b \n", "  a  \n\n\n b \n"),
    ("ascii untouched", "plain ASCII line\n", "plain ASCII line\n"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in NORMALIZED], ids=[c[0] for c in NORMALIZED]
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


# --- read_document ------------------------------------------------------------------------------


def test_read_document_returns_text_encoding_and_hash_of_raw_bytes(tmp_path):
    data = codecs.BOM_UTF16_LE + "Überschrift\r\nText".encode("utf-16-le")
    document = read_bytes_as_document(tmp_path, data)
    assert document.text == "Überschrift\nText"
    assert document.encoding == "utf-16-le"
    assert document.content_sha256 == hashlib.sha256(data).hexdigest()
    assert document.rejection is None


def test_read_document_keeps_line_count_of_crlf_text(tmp_path):
    data = b"Title\r\n\r\nFirst paragraph.\r\nSecond\rline\r\n\r\n"
    document = read_bytes_as_document(tmp_path, data)
    assert document.text.split("\n") == [
        "Title", "", "First paragraph.", "Second", "line", "", "",
    ]  # fmt: skip
    assert document.text.count("\n") == data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def test_read_document_normalizes_spaces_and_zero_width_characters(tmp_path):
    data = "Prime\u00a0Minister\u200b said\u202f:\t“no”\ufeff\n".encode()
    assert read_bytes_as_document(tmp_path, data).text == "Prime Minister said : “no”\n"


def test_read_document_decode_rejection_keeps_the_hash(tmp_path):
    data = b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(500)
    document = read_bytes_as_document(tmp_path, data)
    assert document.text is None
    assert document.encoding is None
    assert document.content_sha256 == hashlib.sha256(data).hexdigest()
    assert (document.rejection.stage, document.rejection.check_name) == (
        "decode",
        "binary_content",
    )


def test_read_document_rejects_a_file_above_the_limit_with_its_hash(tmp_path):
    data = (PROSE * 30).encode()[:2100]
    small = replace(Settings(), max_file_bytes=1000)
    document = read_bytes_as_document(tmp_path, data, small)
    assert document.text is None
    assert document.content_sha256 == hashlib.sha256(data).hexdigest()
    assert document.rejection.stage == "read"
    assert document.rejection.check_name == "file_too_large"
    assert document.rejection.error == (
        "file is 2.1 kB, above the 1.0 kB limit (NEWS_ETL_MAX_FILE_BYTES): "
        "split it or raise the limit"
    )


def test_read_document_reads_a_file_exactly_at_the_limit(tmp_path):
    data = (PROSE * 20).encode()[:1000]
    document = read_bytes_as_document(tmp_path, data, replace(Settings(), max_file_bytes=1000))
    assert document.rejection is None
    assert document.text == data.decode()


def test_read_document_rejects_a_file_that_grew_after_discovery(tmp_path):
    path = write(tmp_path / "growing.txt", PROSE * 30)
    stale = SourceFile(path=path, source_uri=path.as_uri(), size_bytes=10)
    document = read_document(stale, replace(Settings(), max_file_bytes=1000))
    assert document.rejection.check_name == "file_too_large"
    assert document.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_document_rejects_a_real_50_mb_file_with_default_settings(tmp_path):
    block = random.Random(0).randbytes(1_000_000)
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        for _ in range(50):
            handle.write(block)
    expected = hashlib.sha256(block * 50).hexdigest()

    document = read_document(source_for(path), Settings())

    assert document.rejection.stage == "read"
    assert document.rejection.check_name == "file_too_large"
    assert document.rejection.error.startswith("file is 50.0 MB, above the 5.0 MB limit")
    assert document.content_sha256 == expected
    assert document.text is None


@pytest.mark.parametrize("kind", ["vanished", "folder", "fifo"])
def test_read_document_reports_unreadable_input_without_raising(tmp_path, kind):
    path = tmp_path / "gone.txt"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # must not block waiting for a writer
    source = SourceFile(path=path, source_uri=path.as_uri(), size_bytes=10)

    document = read_document(source, SETTINGS)

    assert document.content_sha256 is None
    assert document.text is None
    assert (document.rejection.stage, document.rejection.check_name) == ("read", "unreadable")
    assert document.rejection.error.startswith("cannot read the file (")


def test_read_document_names_the_os_reason(tmp_path):
    path = tmp_path / "gone.txt"
    document = read_document(SourceFile(path, path.as_uri(), 1), SETTINGS)
    assert "No such file or directory" in document.rejection.error


# --- properties -----------------------------------------------------------------------------------

TEXTS = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\r", "\n", "\t", "\u00a0", "\u0301", *ZERO_WIDTH]),
    ),
    max_size=300,
)
RAW_BYTES = st.one_of(
    st.binary(max_size=2000),
    TEXTS.map(str.encode),
    TEXTS.map(lambda text: text.encode("utf-16-le", "surrogatepass")),
    TEXTS.map(lambda text: text.encode("cp1252", "ignore")),
    st.builds(lambda bom, text: bom + text.encode("utf-8"), st.sampled_from([
        codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE
    ]), TEXTS),
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=RAW_BYTES)
def test_read_document_never_raises_and_returns_text_or_rejection(tmp_path, data):
    document = read_bytes_as_document(tmp_path, data)

    assert (document.text is None) != (document.rejection is None)
    assert (document.encoding is None) == (document.text is None)
    assert document.content_sha256 == hashlib.sha256(data).hexdigest()
    if document.text is not None:
        assert document.text.strip()
        assert "\x00" not in document.text
        assert "\r" not in document.text
        assert not set(ZERO_WIDTH) & set(document.text)
    else:
        assert document.rejection.stage in ACCEPTED_QUARANTINE_STAGES
        assert document.rejection.error


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(TEXTS, st.text()))
def test_normalize_text_keeps_lines_and_is_idempotent(text):
    normalized = normalize_text(text)

    assert normalized.count("\n") == text.replace("\r\n", "\n").replace("\r", "\n").count("\n")
    assert normalize_text(normalized) == normalized
    assert unicodedata.is_normalized("NFC", normalized)
    assert not set(ZERO_WIDTH + "\x00\r\t\u00a0") & set(normalized)
    assert all(unicodedata.category(char) != "Cc" or char == "\n" for char in normalized)
