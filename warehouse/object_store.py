"""Object storage (s3:// and other fsspec URLs) for sources and the warehouse data path.

Settings come from the environment, read here and nowhere else:
- `NEWS_ETL_DATA_PATH`: `s3://bucket/prefix/` for the Parquet files of a new warehouse (the
  catalog stays local). The warehouse records it in `<root>/data_path`, so readers and later
  runs find it without the setting; it is chosen once, when the warehouse is created.
- `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`: an S3-compatible endpoint such as
  `http://127.0.0.1:9000` (path-style addressing is used with it); unset means AWS itself.
- `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (else
  `AWS_DEFAULT_REGION`, else us-east-1): credentials and region, for s3fs and DuckDB alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import fsspec

if TYPE_CHECKING:  # the read engine imports this module and needs no DuckDB
    import duckdb

DATA_PATH_VARIABLE = "NEWS_ETL_DATA_PATH"
DATA_PATH_FILE = "data_path"  # in the warehouse root: the data path of a warehouse on S3
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
DEFAULT_REGION = "us-east-1"
S3_PROTOCOLS = ("s3", "s3a")
SECRET_NAME = "news_etl_s3"
# A URL scheme of two or more characters (one letter is a Windows drive, as in C:/).
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


class ObjectStoreError(RuntimeError):
    """An object-storage setting cannot be used; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where S3 is and who we are there, from the standard AWS environment variables."""

    key_id: str | None
    secret: str | None
    session_token: str | None
    region: str
    endpoint_url: str | None


def object_url_protocol(location: str | Path) -> str | None:
    """The scheme of an object-storage URL (`s3` for s3://...), None for a local path or file://."""
    if isinstance(location, Path):
        return None
    match = _URL.match(location)
    if match is None or match[1].lower() == "file":
        return None
    return match[1].lower()


def s3_settings(environ: Mapping[str, str] | None = None) -> S3Settings:
    """S3 credentials, region and endpoint from the environment."""
    env = os.environ if environ is None else environ

    def value(*names: str) -> str | None:
        return next((env[name].strip() for name in names if env.get(name, "").strip()), None)

    return S3Settings(
        key_id=value("AWS_ACCESS_KEY_ID"),
        secret=value("AWS_SECRET_ACCESS_KEY"),
        session_token=value("AWS_SESSION_TOKEN"),
        region=value("AWS_REGION", "AWS_DEFAULT_REGION") or DEFAULT_REGION,
        endpoint_url=value(*ENDPOINT_VARIABLES),
    )


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem for an object URL and the path inside it (`bucket/key`).

    fsspec keeps one instance per protocol and options in each process (and makes new ones
    after a fork), so this is cheap to call per file, also on Dask workers.
    """
    protocol = object_url_protocol(url)
    if protocol is None:
        raise ObjectStoreError(f"not an object-storage URL: {url}")
    options: dict[str, object] = {}
    if protocol in S3_PROTOCOLS:
        settings = s3_settings()
        credentials = {
            "key": settings.key_id,
            "secret": settings.secret,
            "token": settings.session_token,
        }
        options = {name: value for name, value in credentials.items() if value}
        options["client_kwargs"] = {"region_name": settings.region}
        if settings.endpoint_url:
            options["endpoint_url"] = settings.endpoint_url
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError) as error:
        raise ObjectStoreError(f"cannot open {url}: {error}") from error
    return fs, path


def warehouse_data_path(root: Path, exists: bool, local: str) -> str:
    """The data path of the warehouse at `root`: recorded, else the setting (new), else `local`.

    `exists` says whether the warehouse has a catalog already. Raises ObjectStoreError when
    the setting asks an existing warehouse to move its data, or names an unsupported URL.
    """
    marker = Path(root) / DATA_PATH_FILE
    recorded = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
    requested = os.environ.get(DATA_PATH_VARIABLE, "").strip() or None
    if requested is not None:
        protocol = object_url_protocol(requested)
        if protocol not in S3_PROTOCOLS:
            raise ObjectStoreError(
                f"{DATA_PATH_VARIABLE} must be an s3:// URL such as s3://bucket/warehouse/, "
                f"not {requested!r}"
            )
        requested = "s3://" + requested.split("://", 1)[1].rstrip("/") + "/"
    current = recorded or (local if exists else None)
    if current is not None and requested is not None and requested != current:
        raise ObjectStoreError(
            f"warehouse at {root} keeps its data in {current}; {DATA_PATH_VARIABLE} "
            f"({requested}) applies only when a warehouse is created"
        )
    return current or requested or local


def record_data_path(root: Path, data_path: str) -> None:
    """Write an object-storage data path into the warehouse, once, for later readers."""
    marker = Path(root) / DATA_PATH_FILE
    if object_url_protocol(data_path) is not None and not marker.exists():
        marker.write_text(data_path + "\n", encoding="utf-8")


def s3_secret_sql(settings: S3Settings) -> str:
    """The CREATE SECRET statement that lets DuckDB's httpfs reach S3 with these settings."""
    options = [("TYPE", "s3"), ("REGION", _literal(settings.region))]
    if settings.key_id and settings.secret:
        options += [("KEY_ID", _literal(settings.key_id)), ("SECRET", _literal(settings.secret))]
    if settings.session_token:
        options.append(("SESSION_TOKEN", _literal(settings.session_token)))
    if settings.endpoint_url:
        endpoint = urlsplit(settings.endpoint_url)
        if not endpoint.netloc:
            raise ObjectStoreError(
                f"S3 endpoint {settings.endpoint_url!r} needs a scheme: http://host:port"
            )
        use_ssl = "true" if endpoint.scheme != "http" else "false"
        options += [
            ("ENDPOINT", _literal(endpoint.netloc)),
            ("URL_STYLE", "'path'"),
            ("USE_SSL", use_ssl),
        ]
    body = ", ".join(f"{name} {value}" for name, value in options)
    return f"CREATE OR REPLACE TEMPORARY SECRET {SECRET_NAME} ({body})"


def configure_duckdb(connection: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """Load httpfs and create the S3 secret when the data path is on S3; nothing otherwise."""
    if object_url_protocol(data_path) not in S3_PROTOCOLS:
        return
    from warehouse.lake import load_extension  # lake imports this module

    load_extension(connection, "httpfs")
    connection.execute(s3_secret_sql(s3_settings()))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
