"""Settings: defaults, environment overrides, explicit overrides."""

from pathlib import Path

from tasks.settings import Settings, load_settings


def test_environment_overrides_each_type(monkeypatch):
    monkeypatch.setenv("NEWS_ETL_BATCH_SIZE", "7")
    monkeypatch.setenv("NEWS_ETL_BLOCK_GAP_PENALTY", "2.5")
    monkeypatch.setenv("NEWS_ETL_WAREHOUSE", "/tmp/somewhere")
    settings = load_settings()
    assert settings.batch_size == 7
    assert settings.block_gap_penalty == 2.5
    assert settings.warehouse == Path("/tmp/somewhere")


def test_explicit_overrides_win_and_none_keeps_default(monkeypatch):
    monkeypatch.setenv("NEWS_ETL_BATCH_SIZE", "7")
    assert load_settings(batch_size=3).batch_size == 3
    assert load_settings(max_file_bytes=None).max_file_bytes == Settings().max_file_bytes
