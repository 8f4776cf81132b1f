"""Object storage: sources and the warehouse data path on S3, against a local moto server."""

import hashlib
import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SEEDS
from conftest import query_warehouse as _query

from tasks.documents import SourceFile
from tasks.read.engine import (
    SourceNotFoundError,
    discover_files,
    read_document,
    read_documents,
)
from tasks.settings import Settings
from warehouse.lake import WarehouseError, connect
from warehouse.maintenance import compact
from warehouse.object_store import (
    DATA_PATH_FILE,
    DATA_PATH_VARIABLE,
    S3Settings,
    s3_secret_sql,
    s3_settings,
    warehouse_data_path,
)

SETTINGS = Settings()
PROSE = "The council met on Monday and voted to approve the budget for next year, officials said.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1, the AWS variables pointing at it, and a boto3 client."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        patch.delenv(DATA_PATH_VARIABLE, raising=False)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        yield client
    server.stop()


def make_bucket(client, name: str, objects: dict[str, bytes]) -> None:
    client.create_bucket(Bucket=name)
    for key, body in objects.items():
        client.put_object(Bucket=name, Key=key, Body=body)


def keys_under(client, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


# --- settings, without a server ----------------------------------------------------------------


def test_secret_sql_follows_the_endpoint_and_quotes_values():
    settings = S3Settings("key", "it's", None, "eu-west-1", "http://127.0.0.1:9000")
    sql = s3_secret_sql(settings)
    assert "ENDPOINT '127.0.0.1:9000'" in sql
    assert "USE_SSL false" in sql
    assert "URL_STYLE 'path'" in sql
    assert "SECRET 'it''s'" in sql
    assert "REGION 'eu-west-1'" in sql
    on_aws = s3_secret_sql(replace(settings, endpoint_url=None))
    assert "ENDPOINT" not in on_aws
    assert "URL_STYLE" not in on_aws


def test_s3_settings_prefer_the_s3_endpoint_and_aws_region():
    settings = s3_settings(
        {
            "AWS_ENDPOINT_URL": "http://general:1",
            "AWS_ENDPOINT_URL_S3": "http://s3only:2",
            "AWS_REGION": "ap-south-1",
            "AWS_DEFAULT_REGION": "us-west-2",
        }
    )
    assert settings.endpoint_url == "http://s3only:2"
    assert settings.region == "ap-south-1"
    assert s3_settings({}).region == "us-east-1"
    assert s3_settings({}).key_id is None


def test_data_path_is_chosen_when_the_warehouse_is_created(tmp_path, monkeypatch):
    local = f"{tmp_path}/data/"
    monkeypatch.delenv(DATA_PATH_VARIABLE, raising=False)
    assert warehouse_data_path(tmp_path, exists=False, local=local) == local
    monkeypatch.setenv(DATA_PATH_VARIABLE, "s3://bucket/lake")
    assert warehouse_data_path(tmp_path, exists=False, local=local) == "s3://bucket/lake/"
    with pytest.raises(Exception, match="applies only when a warehouse is created"):
        warehouse_data_path(tmp_path, exists=True, local=local)
    (tmp_path / DATA_PATH_FILE).write_text("s3://bucket/other/\n")
    with pytest.raises(Exception, match="keeps its data in s3://bucket/other/"):
        warehouse_data_path(tmp_path, exists=True, local=local)
    monkeypatch.delenv(DATA_PATH_VARIABLE)
    assert warehouse_data_path(tmp_path, exists=True, local=local) == "s3://bucket/other/"
    monkeypatch.setenv(DATA_PATH_VARIABLE, "gs://bucket/lake/")
    with pytest.raises(Exception, match="must be an s3:// URL"):
        warehouse_data_path(tmp_path / "new", exists=False, local=local)


# --- sources on S3 ------------------------------------------------------------------------------


def test_discover_lists_objects_like_a_local_folder(s3, tmp_path):
    layout = {
        "b.txt": b"bb",
        "a b/x.txt": b"xxx",
        "a/deeper/y.txt": b"y",
        "a/z.txt": b"",
        ".hidden.txt": b"h",
        ".git/config": b"g",
    }
    make_bucket(s3, "listing", {f"inbox/{key}": body for key, body in layout.items()})
    s3.put_object(Bucket="listing", Key="inbox/empty-folder/", Body=b"")  # a console's marker
    s3.put_object(Bucket="listing", Key="inbox2/not-under-inbox.txt", Body=b"n")
    for key, body in layout.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)

    found = discover_files(["s3://listing/inbox/"])
    local = discover_files([tmp_path])

    assert [f.source_uri.removeprefix("s3://listing/inbox/") for f in found] == [
        f.path.relative_to(tmp_path).as_posix() for f in local
    ]
    assert [f.size_bytes for f in found] == [f.size_bytes for f in local]
    assert found[0].path == Path("listing/inbox/a/deeper/y.txt")
    (single,) = discover_files(["s3://listing/inbox/b.txt"])
    assert single == SourceFile(
        Path("listing/inbox/b.txt"), "s3://listing/inbox/b.txt", 2, single.modified_ns
    )
    # LastModified, in ns: what tells an incremental run the object is unchanged.
    assert single.modified_ns is not None
    assert abs(single.modified_ns / 1e9 - time.time()) < 600
    assert len(discover_files(["s3://listing/inbox", "s3://listing/inbox/a"])) == len(found)
    with pytest.raises(SourceNotFoundError, match="source not found: s3://listing/nowhere"):
        discover_files(["s3://listing/nowhere/"])


def test_discover_sees_objects_added_since_the_last_listing(s3):
    make_bucket(s3, "growing", {"inbox/1.txt": b"one"})
    assert len(discover_files(["s3://growing/inbox/"])) == 1
    s3.put_object(Bucket="growing", Key="inbox/2.txt", Body=b"two")
    assert len(discover_files(["s3://growing/inbox/"])) == 2


def test_read_object_hashes_decodes_and_rejects_like_a_file(s3):
    body = PROSE.encode("cp1252") + "Caf\u00e9 owners said prices rose.\n".encode("cp1252")
    make_bucket(s3, "reading", {"in/good.txt": body, "in/gone.txt": PROSE.encode()})
    good, gone = discover_files(["s3://reading/in/"])[::-1]
    s3.delete_object(Bucket="reading", Key="in/gone.txt")

    document = read_document(good, SETTINGS)
    assert document.rejection is None
    assert document.content_sha256 == hashlib.sha256(body).hexdigest()
    assert "Caf\u00e9 owners" in document.text

    missing = read_document(gone, SETTINGS)
    assert (missing.rejection.stage, missing.rejection.check_name) == ("read", "unreadable")
    assert "no such object" in missing.rejection.error
    assert missing.content_sha256 is None

    small = replace(SETTINGS, max_file_bytes=len(body) - 1)
    too_large = read_document(good, small)
    assert too_large.rejection.check_name == "file_too_large"
    assert too_large.content_sha256 == hashlib.sha256(body).hexdigest()
    stale = replace(good, size_bytes=1)  # grew after the listing: the limit still holds
    assert read_document(stale, small).rejection.check_name == "file_too_large"


def test_read_object_in_a_worker_process_needs_only_the_source(s3):
    make_bucket(s3, "workers", {"in/a.txt": PROSE.encode()})
    (source,) = discover_files(["s3://workers/in/"])
    here = read_document(source, SETTINGS)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter, as a worker process
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        there = pool.submit(read_document, source, SETTINGS).result(timeout=120)
    assert there == here
    assert there.content_sha256 == hashlib.sha256(PROSE.encode()).hexdigest()


def test_read_object_on_an_unknown_bucket_is_quarantined_not_raised(s3):
    source = SourceFile(Path("no-such-bucket/a.txt"), "s3://no-such-bucket/a.txt", 10)
    document = read_document(source, SETTINGS)
    assert document.rejection.check_name == "unreadable"


def test_read_documents_fetches_objects_concurrently_in_source_order(s3, tmp_path, monkeypatch):
    objects = {f"batch/{n:02d}.txt": f"{PROSE}page {n}\n".encode() for n in range(12)}
    make_bucket(s3, "concurrent", objects)
    local = tmp_path / "local.txt"
    local.write_text(PROSE)
    (local_source,) = discover_files([local])
    remote = discover_files(["s3://concurrent/batch/"])
    missing = SourceFile(Path("concurrent/gone.txt"), "s3://concurrent/batch/gone.txt", 10)
    sources = [*remote[:5], local_source, missing, *remote[5:]]
    in_flight = peak = 0
    real_read = read_document

    def counting_read(source, settings):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return real_read(source, settings)
        finally:
            in_flight -= 1

    monkeypatch.setattr("tasks.read.engine.read_document", counting_read)
    documents = read_documents(sources, replace(SETTINGS, object_read_threads=4))
    assert peak > 1  # several objects were in flight at once
    assert [document.source for document in documents] == sources
    assert documents == [real_read(source, SETTINGS) for source in sources]
    assert documents[6].rejection.check_name == "unreadable"
    assert documents[-1].text.endswith("page 11\n")


def test_ingest_from_an_s3_inbox(s3, tmp_path, prefect_harness):
    from flows.ingest import ingest

    seeds = {f"inbox/{path.name}": path.read_bytes() for path in sorted(SEEDS.glob("*.txt"))}
    bad = {"inbox/bad/empty.txt": b"", "inbox/bad/image.txt": PNG}
    make_bucket(s3, "news", seeds | bad)
    warehouse = tmp_path / "warehouse"

    summary = ingest(sources=["s3://news/inbox/"], warehouse=str(warehouse), batch_size=3)

    assert (summary.files_seen, summary.articles_landed) == (len(seeds) + 2, len(seeds))
    articles = _query(warehouse, "select source_uri, content_sha256 from articles order by 1")
    assert articles == sorted(
        (f"s3://news/{key}", hashlib.sha256(body).hexdigest()) for key, body in seeds.items()
    )
    quarantine = _query(warehouse, "select source_uri, check_name from quarantine order by 1")
    assert quarantine == [
        ("s3://news/inbox/bad/empty.txt", "empty_file"),
        ("s3://news/inbox/bad/image.txt", "binary_content"),
    ]
    assert list((warehouse / "data").rglob("*.parquet")), "data stays local without the setting"

    again = ingest(sources=["s3://news/inbox/"], warehouse=str(warehouse), batch_size=3)
    assert (again.articles_landed, again.files_quarantined) == (0, 0)
    assert again.files_skipped == again.files_seen == len(seeds) + 2
    assert again.files_unread == len(seeds) + 2, "unchanged objects are not downloaded again"
    assert _query(warehouse, "select count(*) from articles") == [(len(seeds),)]

    time.sleep(1.1)  # LastModified has whole seconds
    first_key = sorted(seeds)[0]
    s3.put_object(Bucket="news", Key=first_key, Body=seeds[first_key] + b"\nA late addition.\n")
    changed = ingest(sources=["s3://news/inbox/"], warehouse=str(warehouse), batch_size=3)
    assert (changed.files_unread, changed.articles_landed) == (len(seeds) + 1, 1)


# --- the warehouse data path on S3 --------------------------------------------------------------


def test_warehouse_data_on_s3_is_written_there_and_read_back(
    s3, tmp_path, monkeypatch, prefect_harness, capsys
):
    from flows.cli import main
    from flows.ingest import ingest

    s3.create_bucket(Bucket="lake")
    warehouse = tmp_path / "warehouse"
    monkeypatch.setenv(DATA_PATH_VARIABLE, "s3://lake/news")

    summary = ingest(sources=[str(SEEDS)], warehouse=str(warehouse))

    parquet = [key for key in keys_under(s3, "lake", "news/") if key.endswith(".parquet")]
    assert any(key.startswith("news/main/articles/") for key in parquet)
    assert not list(warehouse.rglob("*.parquet")), "no data file is written locally"
    assert (warehouse / DATA_PATH_FILE).read_text().strip() == "s3://lake/news/"

    monkeypatch.delenv(DATA_PATH_VARIABLE)  # readers find the data path in the warehouse
    capsys.readouterr()
    sql = "select source_uri, word_count from articles order by source_uri"
    assert main(["query", sql, "--format", "json", "--warehouse", str(warehouse)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["source_uri"] for row in rows] == sorted(
        path.resolve().as_uri() for path in SEEDS.glob("*.txt")
    )
    assert len(rows) == summary.articles_landed
    assert all(row["word_count"] > 0 for row in rows)
    run_id = summary.run_id
    assert (
        main(
            [
                "query",
                "select count(*) from articles",
                "--as-of",
                run_id,
                "--warehouse",
                str(warehouse),
            ]
        )
        == 0
    )

    report = compact(warehouse, retain_days=0)
    assert report.files_before == len(parquet), "compact counts the files on S3"
    remaining = [key for key in keys_under(s3, "lake", "news/") if key.endswith(".parquet")]
    assert report.files_after == len(remaining)

    monkeypatch.setenv(DATA_PATH_VARIABLE, "s3://lake/elsewhere/")
    with pytest.raises(WarehouseError, match="keeps its data in s3://lake/news/"):
        connect(warehouse)


def test_run_on_an_empty_prefix_fails_in_plain_words(s3, tmp_path, prefect_harness, capsys):
    from flows.cli import main

    s3.create_bucket(Bucket="empty-inbox")
    code = main(["run", "s3://empty-inbox/nothing/", "--warehouse", str(tmp_path / "wh"), "-q"])

    assert code == 2
    error = capsys.readouterr().err
    assert "s3://empty-inbox/nothing" in error
    assert "Traceback" not in error


def test_retry_quarantine_passes_object_urls_on(s3, tmp_path, prefect_harness, capsys):
    from flows.cli import main
    from flows.ingest import ingest

    make_bucket(s3, "retry", {"inbox/empty.txt": b""})
    warehouse = tmp_path / "warehouse"
    ingest(sources=["s3://retry/inbox/"], warehouse=str(warehouse))
    s3.put_object(Bucket="retry", Key="inbox/empty.txt", Body=PROSE.encode() * 3)
    capsys.readouterr()

    assert main(["retry-quarantine", "--warehouse", str(warehouse)]) == 0

    assert "not found any more" not in capsys.readouterr().out
    assert _query(warehouse, "select source_uri from articles") == [("s3://retry/inbox/empty.txt",)]
