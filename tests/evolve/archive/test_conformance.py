"""Every archive backend passes the storage contract (evolve.testing.storage): SQLite in a file and in
memory, and PostgreSQL (skipped without a server unless EVOLVE_REQUIRE_POSTGRES=1, as in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evolve.archive import Archive, Storage
from evolve.archive.store import sqlite_url
from evolve.testing.storage import StorageConformance

MEMORY = "sqlite://"


class TestArchiveBackends(StorageConformance):
    @pytest.fixture(params=["sqlite-file", "sqlite-memory", "postgresql"])
    def storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
        if request.param == "sqlite-file":
            url = sqlite_url(tmp_path / "archive.db")
        elif request.param == "sqlite-memory":
            url = MEMORY
        else:
            url = str(request.getfixturevalue("postgres_url"))
        store = Archive(url)
        yield store
        store.close()

    def reopen(self, storage: Storage) -> Storage | None:
        assert isinstance(storage, Archive)
        return None if storage.url == MEMORY else Archive(storage.url)


def test_the_sql_backend_implements_the_whole_interface() -> None:
    assert not getattr(Archive, "__abstractmethods__", None)
    assert issubclass(Archive, Storage)
