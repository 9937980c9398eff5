"""A new database gets its schema without Alembic; the result equals what the migrations build."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine

from evolve.archive import Archive
from evolve.archive.admin import head_revision
from evolve.archive.models import Base
from evolve.archive.store import SCHEMA_HEAD, alembic_upgrade, schema_revision, sqlite_url


def _differences(engine: object) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:  # type: ignore[attr-defined]
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_the_schema_head_constant_is_the_newest_migration() -> None:
    assert SCHEMA_HEAD == head_revision()


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        alembic_upgrade(conn)
    assert _differences(engine) == []
    engine.dispose()


def test_a_new_database_is_created_at_the_head_without_alembic(tmp_path: Path) -> None:
    archive = Archive(sqlite_url(tmp_path / "new.db"))
    assert schema_revision(archive.engine) == SCHEMA_HEAD
    assert _differences(archive.engine) == []
    archive.close()


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    import subprocess

    Archive(sqlite_url(tmp_path / "a.db")).close()
    code = ("import sys\nfrom evolve.archive import Archive\nfrom evolve.archive.store import sqlite_url\n"
            f"Archive(sqlite_url({str(tmp_path / 'a.db')!r})).close()\n"
            f"Archive(sqlite_url({str(tmp_path / 'b.db')!r})).close()\n"
            "print('alembic' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
