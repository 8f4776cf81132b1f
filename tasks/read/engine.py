"""Find source files, read their bytes and decode them to normalized text (pure, no Prefect)."""

import codecs
import hashlib
import logging
import os
import re
import stat
import unicodedata
from collections.abc import Container, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from charset_normalizer import from_bytes
from fsspec import AbstractFileSystem

from tasks.documents import DecodedDocument, Rejection, SourceFile
from tasks.settings import Settings
from warehouse.object_store import filesystem, object_url_protocol

LOGGER = logging.getLogger(__name__)

WalkedFile = tuple[str, str, str, int, int]  # path, folder, name, size, mtime in ns
FileState = tuple[str, str, str]  # see file_state

HASH_CHUNK_BYTES = 1024 * 1024
# Non-blocking so that a FIFO cannot hang the run; it has no effect on regular files.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)

# Byte-order marks, longest first: the UTF-32-LE mark starts with the UTF-16-LE mark.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
)
_MARK_FIRST_BYTES = frozenset(mark[0] for mark, _ in _BYTE_ORDER_MARKS + _BINARY_MAGIC)
# Among detections that charset-normalizer rates equally plausible, the most common legacy
# encoding of Western web text wins (it otherwise often picks cp1250 or cp1125 for short text).
_PREFERRED_ON_TIE = "cp1252"
_TIE_TOLERANCE = 1e-6
# A BOM-less file is taken as UTF-16 when this share of one byte column is NUL and the other is not.
_UTF16_NUL_SHARE = 0.3
_UTF16_OTHER_NUL_SHARE = 0.05

# Bytes that are not control characters: deleting them from UTF-8 leaves the C0 controls and DEL.
_NOT_C0_CONTROL_BYTES = bytes(
    b for b in range(256) if not (b < 0x20 or b == 0x7F) or b in b"\t\n\r"
)
# C1 controls (U+0080-U+009F) in UTF-8: 0xC2 is always a lead byte there.
_C1_CONTROL_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")

_SPACE_LIKE = "\t\u00a0\u2007\u202f\u2028\u2029"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_REPLACEMENTS = tuple((char, " ") for char in _SPACE_LIKE) + tuple(
    (char, "") for char in _ZERO_WIDTH
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ASCII_TABLE = str.maketrans(
    {chr(code): None for code in [*range(0x20), 0x7F] if code not in (0x09, 0x0A)} | {"\t": " "}
)

# Characters Path.as_uri() leaves as they are; every other byte becomes %XX.
_URI_UNSAFE = re.compile(r"[^A-Za-z0-9_.~/-]")
_URI_UNSAFE_BYTES = re.compile(rb"[^A-Za-z0-9_.~/-]")

EMPTY_FILE_ERROR = "file is empty: nothing to clean"


class SourceNotFoundError(Exception):
    """A source path given to the run does not exist."""


class DecodeRejected(Exception):
    """Bytes that cannot become text; carries the rejection to quarantine."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.error)
        self.rejection = rejection


def discover_files(sources: Sequence[str | Path]) -> list[SourceFile]:
    """The SourceFiles of `list_sources(sources)`, as a list."""
    listing = list_sources(sources)
    return listing.batch(0, len(listing))


def list_sources(sources: Sequence[str | Path]) -> "SourceListing":
    """List the regular files under the sources, sorted by path, each file once.

    A source is a file (always taken) or a folder, walked recursively. Hidden files and
    folders (name starting with '.') are skipped. Symlinked folders are never followed. A
    symlinked file is taken only when its resolved target lies inside the source folder; it
    keeps the link's own path and URI. A file reached twice (two sources, or a symlink and its
    target) is listed once. Raises SourceNotFoundError for a missing source.

    A source may also be an object-storage URL (s3://bucket/prefix, or any fsspec URL): its
    objects are listed the same way, after the local files, with the object's URL as
    source_uri and its `bucket/key` path as path.
    """
    urls = [str(source) for source in sources if object_url_protocol(source) is not None]
    roots = [_check_source(source) for source in sources if object_url_protocol(source) is None]
    found: dict[str, WalkedFile] = {}  # resolved -> (path, folder, name, size, mtime)
    for root in roots:
        if os.path.isdir(root):
            candidates = _walk_folder(root)
        else:
            folder, name = os.path.split(root)
            status = os.stat(root)
            candidates = iter([(root, (root, folder, name, status.st_size, status.st_mtime_ns))])
        for real, taken in candidates:
            kept = found.get(real)
            if kept is None or (kept[0] != real and (taken[0] == real or taken[0] < kept[0])):
                found[real] = taken
    # Order of Path objects (part by part): the separator sorts before every other character.
    ordered = sorted(found.values(), key=lambda item: item[0].replace(os.sep, "\x00"))
    del found
    listing = SourceListing.from_walk(ordered, _discover_objects(urls) if urls else [])
    LOGGER.info("discovered %d files in %d sources", len(listing), len(roots) + len(urls))
    return listing


class SourceListing:
    """The files of a run, held as Arrow arrays: a SourceFile costs ~740 bytes as an object (its
    Path most), ~200 here, and a run lists every file before its first batch."""

    def __init__(self, files: Sequence[SourceFile]) -> None:
        self._paths = pa.array([str(file.path) for file in files], pa.string())
        self._uris = pa.array([file.source_uri for file in files], pa.string())
        self._sizes = pa.array([file.size_bytes for file in files], pa.int64())
        self._modified = pa.array([file.modified_ns for file in files], pa.int64())

    @classmethod
    def from_walk(
        cls, found: Sequence[WalkedFile], objects: Sequence[SourceFile] = ()
    ) -> "SourceListing":
        """The listing of (path, folder, name, size, mtime) local files, then `objects`, built
        without a SourceFile (nor a Path) per file."""
        listing = cls(objects)
        prefixes: dict[str, str] = {}  # folder -> its file:// URI, shared by its files

        def uri(path: str, folder: str, name: str) -> str:
            if os.name != "posix":
                return Path(path).as_uri()
            prefix = prefixes.get(folder)
            if prefix is None:
                prefix = prefixes[folder] = _file_uri(os.path.join(folder, ""))
            return prefix + _quote_uri_path(name)

        paths = pa.array([item[0] for item in found], pa.string())
        uris = pa.array([uri(*item[:3]) for item in found], pa.string())
        sizes = pa.array([item[3] for item in found], pa.int64())
        modified = pa.array([item[4] for item in found], pa.int64())
        listing._paths = pa.concat_arrays([paths, listing._paths])
        listing._uris = pa.concat_arrays([uris, listing._uris])
        listing._sizes = pa.concat_arrays([sizes, listing._sizes])
        listing._modified = pa.concat_arrays([modified, listing._modified])
        return listing

    def __len__(self) -> int:
        return len(self._sizes)

    def batch(self, start: int, stop: int) -> list[SourceFile]:
        """The SourceFiles of positions start to stop, as list_sources listed them."""
        count = max(0, min(stop, len(self)) - start)
        paths, uris, sizes, modified = (
            array.slice(start, count).to_pylist()
            for array in (self._paths, self._uris, self._sizes, self._modified)
        )
        return [
            SourceFile(Path(path), uri, size, mtime)
            for path, uri, size, mtime in zip(paths, uris, sizes, modified, strict=True)
        ]

    def batches(self, size: int) -> Iterator[list[SourceFile]]:
        """Consecutive batches of `size` files, built one at a time."""
        for start in range(0, len(self), size):
            yield self.batch(start, start + size)

    def without_settled(
        self, landed: Container[FileState], quarantined: Container[FileState]
    ) -> tuple["SourceListing", int, int]:
        """The files whose listed state (`file_state`) an earlier run did not settle, and how
        many were settled as landed and as quarantined (those are left out, unread)."""
        keep, landed_count, quarantined_count = [], 0, 0
        for uri, size, mtime in zip(
            self._uris.to_pylist(), self._sizes.to_pylist(), self._modified.to_pylist(), strict=True
        ):
            state = file_state(uri, size, mtime) if mtime is not None else None
            if state is not None and state in landed:
                landed_count += 1
                keep.append(False)
            elif state is not None and state in quarantined:
                quarantined_count += 1
                keep.append(False)
            else:
                keep.append(True)
        if landed_count + quarantined_count == 0:
            return self, 0, 0
        mask = pa.array(keep, pa.bool_())
        listing = SourceListing([])
        listing._paths, listing._uris, listing._sizes, listing._modified = (
            array.filter(mask) for array in (self._paths, self._uris, self._sizes, self._modified)
        )
        return listing, landed_count, quarantined_count


def file_state(source_uri: str, size_bytes: int, modified_ns: int) -> FileState:
    """The key of a file as listed: path, size and modification time (as `source_files`
    records them): a file listed with the same key is taken as unchanged."""
    return (source_uri, str(size_bytes), str(modified_ns))


def _discover_objects(urls: Sequence[str]) -> list[SourceFile]:
    """SourceFile records for the objects under object-storage URLs, sorted by URL."""
    found: dict[str, SourceFile] = {}
    for url in urls:
        scheme = url.split("://", 1)[0]
        fs, root = filesystem(url)
        fs.invalidate_cache(root)  # list what is there now, not what this process saw before
        try:
            info = fs.info(root)
        except FileNotFoundError as error:
            raise SourceNotFoundError(f"source not found: {url}") from error
        if info["type"] == "file":
            listed = {root: info}
        else:
            listed = fs.find(root, detail=True, withdirs=False)
        prefix = root.rstrip("/") + "/"
        for name, entry in listed.items():
            if name != root and (entry.get("type") != "file" or _hidden_or_folder(name, prefix)):
                continue
            uri = f"{scheme}://{name}"
            size = int(entry.get("size") or 0)
            found[uri] = SourceFile(Path(name), uri, size, _object_modified_ns(entry))
    return [found[uri] for uri in sorted(found, key=lambda uri: uri.replace("/", "\x00"))]


def _object_modified_ns(entry: dict) -> int | None:
    """An object's modification time in ns since the epoch, from an fsspec listing entry
    (s3fs: LastModified; local and memory filesystems: mtime or created), or None."""
    for name in ("LastModified", "last_modified", "mtime", "created"):
        value = entry.get(name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return int(value.timestamp() * 1_000_000) * 1_000
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value * 1_000_000) * 1_000
    return None


def _check_source(source: str | Path) -> str:
    """The resolved path of an existing file or folder, or SourceNotFoundError."""
    path = Path(source)
    if path.is_dir() or path.is_file():
        return os.path.realpath(path)
    if path.exists():
        raise SourceNotFoundError(f"source is neither a file nor a folder: {path}")
    raise SourceNotFoundError(f"source not found: {path}")


def _walk_folder(root: str) -> Iterator[tuple[str, WalkedFile]]:
    """Yield (resolved target, (path, folder, name, size, mtime)) for each file taken under a
    folder."""
    inside = os.path.join(root, "")
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError as exc:
            LOGGER.warning("cannot list folder %s, skipping it: %s", folder, exc)
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        status = entry.stat(follow_symlinks=False)
                        yield (
                            entry.path,
                            (entry.path, folder, name, status.st_size, status.st_mtime_ns),
                        )
                    elif entry.is_symlink():
                        target = _symlink_target(entry.path, inside)
                        if target is not None:
                            real, status = target
                            yield (
                                real,
                                (entry.path, folder, name, status.st_size, status.st_mtime_ns),
                            )
                except OSError as exc:
                    LOGGER.warning("cannot inspect %s, skipping it: %s", entry.path, exc)


def _file_uri(path: str) -> str:
    """The file:// URI of an absolute path, as Path.as_uri() writes it."""
    if os.name != "posix":
        return Path(path).as_uri()
    return "file://" + _quote_uri_path(path)


def _quote_uri_path(text: str) -> str:
    """Percent-encode a POSIX path for a URI, byte for byte like Path.as_uri()."""
    if _URI_UNSAFE.search(text) is None:
        return text
    return _URI_UNSAFE_BYTES.sub(_percent_encode, os.fsencode(text)).decode("ascii")


def _percent_encode(match: re.Match[bytes]) -> bytes:
    """%XX for one byte."""
    return b"%%%02X" % match[0][0]


def _symlink_target(link: str, inside: str) -> tuple[str, os.stat_result] | None:
    """The resolved target and status of a symlink to a regular file inside the folder, else
    None."""
    target = os.path.realpath(link)
    if not target.startswith(inside):
        LOGGER.debug("skipping symlink %s: target %s is outside the source folder", link, target)
        return None
    try:
        status = os.stat(target)
    except OSError as exc:
        LOGGER.debug("skipping symlink %s: %s", link, exc)
        return None
    if not stat.S_ISREG(status.st_mode):
        LOGGER.debug("skipping symlink %s: target %s is not a regular file", link, target)
        return None
    return target, status


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(HASH_CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()


def read_document(source: SourceFile, settings: Settings) -> DecodedDocument:
    """Read, hash and decode one file; bad input becomes a rejection, never an exception.

    A file above settings.max_file_bytes is hashed by streaming, never loaded. An object URL
    (see list_sources) is read through fsspec.
    """
    if not source.source_uri.startswith("file:") and object_url_protocol(source.source_uri):
        return _read_object(source, settings)
    limit = settings.max_file_bytes
    try:
        descriptor = os.open(source.path, _OPEN_FLAGS)
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise OSError(0, "not a regular file")
            size = max(source.size_bytes, status.st_size)
            data = None if size > limit else _read_up_to(descriptor, size, limit)
            if data is None:
                size = max(size, os.fstat(descriptor).st_size, limit + 1)
        finally:
            os.close(descriptor)
        if data is None:
            return _too_large(source, sha256_file(source.path), size, limit)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        error = f"cannot read the file ({reason}): check that it exists and that it is readable"
        return _rejected(source, None, Rejection("read", "unreadable", error))
    return _decoded(source, data, settings)


def read_documents(sources: Sequence[SourceFile], settings: Settings) -> list[DecodedDocument]:
    """read_document of each source, in order; object URLs fetched by concurrent threads.

    An object read waits on the network for most of its time (one GET per object), so a batch
    of them read one by one is bound by latency, not by the CPU.
    """
    threads = settings.object_read_threads
    remote = [
        at
        for at, source in enumerate(sources)
        if not source.source_uri.startswith("file:") and object_url_protocol(source.source_uri)
    ]
    if threads <= 1 or len(remote) <= 1:
        return [read_document(source, settings) for source in sources]
    with ThreadPoolExecutor(max_workers=min(threads, len(remote))) as pool:
        fetched = pool.map(lambda at: read_document(sources[at], settings), remote)
        documents: list[DecodedDocument | None] = [None] * len(sources)
        for at, document in zip(remote, fetched, strict=True):
            documents[at] = document
    return [
        document if document is not None else read_document(source, settings)
        for source, document in zip(sources, documents, strict=True)
    ]


def _read_object(source: SourceFile, settings: Settings) -> DecodedDocument:
    """read_document for an object-storage URL: one ranged GET, or a streamed hash if too large."""
    limit = settings.max_file_bytes
    try:
        fs, path = filesystem(source.source_uri)
        data = _read_object_up_to(fs, path, source.size_bytes, limit)
        if data is None or len(data) > limit:
            digest, size = _sha256_object(fs, path)
            return _too_large(source, digest, max(size, source.size_bytes, limit + 1), limit)
    except Exception as exc:  # fsspec backends raise their own errors (botocore, aiohttp, ...)
        error = (
            f"cannot read the object ({_object_error(exc)}): check that it exists and that "
            "the credentials may read it"
        )
        return _rejected(source, None, Rejection("read", "unreadable", error))
    return _decoded(source, data, settings)


def _decoded(source: SourceFile, data: bytes, settings: Settings) -> DecodedDocument:
    """The document of bytes read whole: hashed, then decoded or rejected."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        text, encoding = decode_bytes(data, settings)
    except DecodeRejected as rejected:
        return _rejected(source, digest, rejected.rejection)
    return DecodedDocument(source=source, content_sha256=digest, text=text, encoding=encoding)


def _read_object_up_to(fs: AbstractFileSystem, path: str, size: int, limit: int) -> bytes | None:
    """Up to limit + 1 bytes of an object listed with `size` bytes, or None when size > limit."""
    if size > limit:
        return None
    if size > 0:
        return fs.cat_file(path, start=0, end=limit + 1)  # one request, bounded if it grew
    with fs.open(path, "rb") as handle:  # S3 refuses a range on an empty object (416)
        return handle.read(limit + 1)


def _hidden_or_folder(name: str, prefix: str) -> bool:
    """A folder marker ('key/') or an object under a hidden name, as skipped in local folders."""
    relative = name.removeprefix(prefix)
    return name.endswith("/") or any(part.startswith(".") for part in relative.split("/"))


def _sha256_object(fs: AbstractFileSystem, path: str) -> tuple[str, int]:
    """SHA-256 hex digest and size of an object, streamed in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with fs.open(path, "rb", block_size=HASH_CHUNK_BYTES) as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _object_error(exc: Exception) -> str:
    """A short reason for a failed object read."""
    if isinstance(exc, FileNotFoundError):
        return "no such object"
    if isinstance(exc, PermissionError):
        return "access denied"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _read_up_to(descriptor: int, size: int, limit: int) -> bytes | None:
    """All bytes of an open file of about `size` bytes, or None when it holds more than limit."""
    chunks = [os.read(descriptor, size + 1)]  # a regular file comes back in one read
    total = len(chunks[0])
    if total == size:
        return chunks[0]
    while total <= limit and (chunk := os.read(descriptor, HASH_CHUNK_BYTES)):
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(source: SourceFile, digest: str, size: int, limit: int) -> DecodedDocument:
    """Rejection for a file above the size limit."""
    error = (
        f"file is {_format_size(size)}, above the {_format_size(limit)} limit "
        "(NEWS_ETL_MAX_FILE_BYTES): split it or raise the limit"
    )
    return _rejected(source, digest, Rejection("read", "file_too_large", error))


def _rejected(source: SourceFile, digest: str | None, rejection: Rejection) -> DecodedDocument:
    """A document that carries a rejection instead of text."""
    return DecodedDocument(
        source=source, content_sha256=digest, text=None, encoding=None, rejection=rejection
    )


def _format_size(size: int) -> str:
    """Human-readable size in decimal units, e.g. '52.4 MB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def decode_bytes(data: bytes, settings: Settings) -> tuple[str, str]:
    """Decode raw bytes to normalized text; return (text, encoding) or raise DecodeRejected."""
    if not data:
        raise DecodeRejected(Rejection("decode", "empty_file", EMPTY_FILE_ERROR))
    if data[0] in _MARK_FIRST_BYTES:
        for magic, kind in _BINARY_MAGIC:
            if data.startswith(magic):
                raise DecodeRejected(_binary(kind))
    text, encoding = _decode(data, settings)
    # Strict UTF-8 is the common case: its bytes already are the UTF-8 form of the text.
    controls = _count_controls(data if encoding == "utf-8" else _utf8(text))
    if controls and controls / len(text) > settings.max_control_char_ratio:
        raise DecodeRejected(_binary(f"{controls / len(text):.1%} control characters"))
    text = _normalize(text, controls)
    if not text or text.isspace():
        raise DecodeRejected(Rejection("decode", "empty_file", EMPTY_FILE_ERROR))
    return text, encoding


def _binary(what: str) -> Rejection:
    """Rejection for bytes that are not text."""
    error = f"file looks binary ({what}), not text: remove it from the source or convert it to text"
    return Rejection("decode", "binary_content", error)


def _decode(data: bytes, settings: Settings) -> tuple[str, str]:
    """Decode by byte-order mark, strict UTF-8 or BOM-less UTF-16, then charset detection."""
    if data[0] in _MARK_FIRST_BYTES:
        for mark, encoding in _BYTE_ORDER_MARKS:
            if data.startswith(mark):
                try:
                    return data[len(mark) :].decode(encoding.removesuffix("-sig")), encoding
                except UnicodeDecodeError:
                    continue
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or b"\x00" in data:  # UTF-16 of mostly ASCII text is valid UTF-8 with NULs
        utf16 = _bomless_utf16(data)
        if utf16 is not None:
            try:
                return data.decode(utf16), utf16
            except UnicodeDecodeError:
                pass
    if text is not None:
        return text, "utf-8"
    detected = _detect(data)
    if detected is not None:
        return detected
    controls = len(data.translate(None, _NOT_C0_CONTROL_BYTES))
    if controls / len(data) > settings.max_control_char_ratio:
        raise DecodeRejected(_binary(f"{controls / len(data):.1%} control bytes"))
    error = (
        "cannot decode the bytes as text: not UTF-8, no UTF-16/UTF-32 byte-order mark, and "
        "charset-normalizer found no plausible encoding; convert the file to UTF-8"
    )
    raise DecodeRejected(Rejection("decode", "undecodable", error))


def _bomless_utf16(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when NUL bytes fill one byte column of the data, else None."""
    if len(data) < 2 or data.count(0) < len(data) * _UTF16_NUL_SHARE / 2:
        return None
    pairs = len(data) // 2
    even_nuls = data[0::2].count(0) / pairs
    odd_nuls = data[1::2].count(0) / pairs
    if odd_nuls >= _UTF16_NUL_SHARE and even_nuls <= _UTF16_OTHER_NUL_SHARE:
        return "utf-16-le"
    if even_nuls >= _UTF16_NUL_SHARE and odd_nuls <= _UTF16_OTHER_NUL_SHARE:
        return "utf-16-be"
    return None


def _detect(data: bytes) -> tuple[str, str] | None:
    """Decode with the encoding charset-normalizer finds most plausible, or None."""
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    encoding = best.encoding
    for match in matches:
        tied = (
            abs(match.chaos - best.chaos) <= _TIE_TOLERANCE
            and abs(match.coherence - best.coherence) <= _TIE_TOLERANCE
        )
        if tied and _PREFERRED_ON_TIE in match.could_be_from_charset:
            encoding = _PREFERRED_ON_TIE
            break
    try:
        return data.decode(encoding), codecs.lookup(encoding).name
    except (UnicodeDecodeError, LookupError):
        return None


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of any str, lone surrogates included."""
    return text.encode("utf-8", "surrogatepass")


def _count_controls(encoded: bytes) -> int:
    """Control characters (category Cc) other than tab, LF and CR in UTF-8 encoded text."""
    c0_and_delete = len(encoded.translate(None, _NOT_C0_CONTROL_BYTES))
    return c0_and_delete + (len(_C1_CONTROL_UTF8.findall(encoded)) if b"\xc2" in encoded else 0)


def normalize_text(text: str) -> str:
    """NFC, LF line ends, plain spaces, no zero-width or control characters; lines kept as they are.

    Non-breaking, figure and narrow spaces, tabs and the Unicode line/paragraph separators
    (U+2028, U+2029) become a space; control characters other than the line feed are removed.
    The number of line feeds equals that of the input after CRLF and CR become LF.
    """
    return _normalize(text, _count_controls(_utf8(text)))


def _normalize(text: str, controls: int) -> str:
    """normalize_text, given the number of control characters in the text (fast when 0)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        if controls or "\t" in text:
            text = text.translate(_ASCII_TABLE)  # CPython translates ASCII to ASCII in C
        return text
    for char, replacement in _REPLACEMENTS:
        if char in text:
            text = text.replace(char, replacement)
    if controls:
        text = _CONTROLS.sub("", text)
    return unicodedata.normalize("NFC", text)  # returns the text itself when already NFC
