"""`evolve db …`: the schema of archive databases, migrated with the Alembic scripts shipped in evolve.

    evolve db upgrade [TARGET …]   migrate to the newest schema (creates it in an empty database)
    evolve db current [TARGET …]   print each database's revision; exit 1 when one is not the newest

TARGET is a database URL (postgresql+psycopg://user@host/db, sqlite:///path), a run directory or an
archive.db file; without one, every run directory under ./runs. `evolve run` migrates its own archive
when it opens it; run `evolve db upgrade URL` once before starting several runs against a new server.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from evolve.archive.store import DB_NAME, MIGRATIONS, Archive, schema_revision, sqlite_url, upgrade_schema
from evolve.errors import ArchiveError, EvolveError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise EvolveError(f"{self.prog}: {message}; {' '.join(self.format_usage().split())}")


def head_revision() -> str:
    """The newest schema revision this version of evolve ships."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def targets(names: Sequence[str], runs_root: Path = Path("runs")) -> list[str]:
    """Database URLs for what the user named (URLs, run directories, archive.db files)."""
    if not names:
        found = sorted(runs_root.glob(f"**/{DB_NAME}"))
        if not found:
            raise EvolveError(f"evolve db: no {DB_NAME} under {runs_root}/; name a database URL or a run directory")
        return [sqlite_url(p) for p in found]
    urls = []
    for name in names:
        if "://" in name:
            try:
                make_url(name)
            except ArgumentError as exc:
                raise EvolveError(f"evolve db: {name!r} is not a database URL: {exc}") from exc
            urls.append(name)
            continue
        path = Path(name)
        if path.is_dir():
            path = path / DB_NAME
        if not path.is_file():
            raise EvolveError(f"evolve db: {name}: no such run directory or {DB_NAME} file "
                              "(or give a database URL such as postgresql+psycopg://user@host/evolve)")
        urls.append(sqlite_url(path))
    return urls


def shown(url: str) -> str:
    """The URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def main(argv: Sequence[str]) -> int:
    parser = _Parser(prog="evolve db", description="Manage the schema of archive databases.")
    sub = parser.add_subparsers(dest="action", metavar="upgrade|current", parser_class=_Parser)
    sub.required = True
    for name, text in (("upgrade", "migrate to the newest schema"), ("current", "show the schema revision")):
        p = sub.add_parser(name, help=text)
        p.add_argument("target", nargs="*", metavar="TARGET",
                       help="database URL, run directory or archive.db (default: every run under ./runs)")
    args = parser.parse_args(list(argv))
    head = head_revision()
    behind = 0
    for url in targets(args.target):
        database = make_url(url).database if url.startswith("sqlite") else None
        if args.action == "current" and database and not Path(database).is_file():
            raise EvolveError(f"evolve db current: {database}: no such database file")
        try:
            archive = Archive(url, upgrade=False)
        except ArchiveError as exc:
            raise EvolveError(str(exc)) from exc
        try:
            archive.check_integrity()
            before = schema_revision(archive.engine)
            if args.action == "upgrade":
                upgrade_schema(archive.engine)
                after = schema_revision(archive.engine)
                change = f"at the newest schema ({after})" if before == after else \
                    f"migrated {before or 'empty'} -> {after}"
                print(f"{shown(url)}: {change}")
            else:
                state = "newest" if before == head else \
                    "empty: `evolve db upgrade` creates the schema" if before is None else \
                    f"behind {head}: run `evolve db upgrade`"
                behind += before != head
                print(f"{shown(url)}: {before or '-'} ({state})")
        except ArchiveError as exc:
            raise EvolveError(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise EvolveError(f"evolve db {args.action}: {shown(url)}: {exc.__class__.__name__}: "
                              f"{str(exc).splitlines()[0]}") from exc
        finally:
            archive.close()
    return 1 if behind else 0
