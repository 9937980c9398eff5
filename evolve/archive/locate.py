"""From what a user names to a stored run: one place that turns a run directory, an archive.db file, a
database URL or a run id into an archive and one of its runs.

`open_run` serves the terminal views and the report (read-only); `evolve run resume=…` opens its archive
for writing and chooses the run with the same `pick_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from evolve.archive.base import Storage
from evolve.archive.records import RunRecord
from evolve.archive.store import DB_NAME, Archive, _safe_url
from evolve.errors import ArchiveError


def pick_run(storage: Storage, *, run_id: str | None = None, run_dir: Path | str | None = None) -> RunRecord:
    """The run a user means: the run `run_id`; else the newest run started in `run_dir` (or the only run
    there is, for a run directory that was moved); else, without `run_dir`, the newest run."""
    where = storage.shown
    if run_id:
        try:
            return storage.get_run(run_id)
        except ArchiveError as exc:
            raise ArchiveError(f"no run {run_id!r} in {where}; `evolve runs {where}` lists the run ids") from exc
    runs = storage.list_runs()  # oldest first
    if not runs:
        raise ArchiveError(f"{where} holds no run yet")
    if run_dir is None:
        return runs[-1]
    wanted = Path(run_dir).resolve()
    mine = [r for r in runs if r.run_dir is None or Path(r.run_dir).resolve() == wanted]
    if mine:
        return mine[-1]
    if len(runs) == 1:
        return runs[0]
    raise ArchiveError(f"{run_dir}: no run in {where} was started in this directory; name the run by its id "
                       f"(`evolve runs {where}` lists them): --run-id ID, or resume=ID archive.url=URL")


def safe_url(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    return _safe_url(url)


def readonly_sqlite_url(db_file: Path) -> str:
    """A SQLAlchemy URL that opens `db_file` read-only (safe next to a writer in WAL mode)."""
    url = URL.create("sqlite", database=f"file:{quote(str(db_file.resolve()))}",
                     query={"mode": "ro", "uri": "true"})
    return url.render_as_string(hide_password=False)


def open_archive(url: str, shown: str | None = None) -> Archive:
    """Open an existing archive by URL without creating or migrating anything (SQLite: read-only).

    `shown` is how error messages name it (default: the URL without its password).
    """
    shown = shown or _safe_url(url)
    if url.startswith("sqlite"):
        try:
            db = make_url(url).database
        except ArgumentError as exc:
            raise ArchiveError(f"{shown} is not a valid database URL: {exc}") from exc
        if db and db != ":memory:" and not db.startswith("file:"):
            if not Path(db).is_file():  # SQLite would create an empty file: that is a write
                raise ArchiveError(f"{shown}: no such database file {db}")
            url = readonly_sqlite_url(Path(db))
    try:
        archive = Archive(url, create=False, upgrade=False)
        archive.shown = shown
        return archive
    except ImportError as exc:  # e.g. a postgresql URL without the driver installed
        raise ArchiveError(f"cannot open {shown}: the database driver is missing ({exc.name}); "
                           "install it, e.g. pip install 'evolve[postgres]'") from exc
    except ArchiveError as exc:
        raise ArchiveError(str(exc).replace(_safe_url(url), shown)) from exc


def open_run(target: str, run_id: str | None = None) -> tuple[Archive, RunRecord]:
    """Open what a user names as RUN (a run directory, an archive.db file, or a database URL), read-only.

    Without `run_id`, `pick_run` chooses: the newest run of the database, or for a run directory whose
    config names a shared database, the newest run started in that directory.
    """
    run_dir: Path | None = None
    if "://" in target:
        archive = open_archive(target)
    else:
        path = Path(target).expanduser()
        if not path.exists():
            raise ArchiveError(f"{target}: no such run directory; `evolve runs` lists the runs under runs/ "
                               "(or give a database URL such as postgresql+psycopg://host/db with --run-id)")
        if path.is_file():
            archive = open_archive(readonly_sqlite_url(path), target)
        elif (path / DB_NAME).is_file():
            archive = open_archive(readonly_sqlite_url(path / DB_NAME), target)
        else:
            url = _configured_url(path)
            if url is None:
                hint = (f"; it holds runs: `evolve runs {target}` lists them"
                        if _run_dbs(path) else
                        "; give the folder `evolve run` printed as its run directory")
                raise ArchiveError(f"{target} is not a run directory: it has no {DB_NAME}{hint}")
            archive = open_archive(url)
            run_dir = path  # a shared database: the run started in this directory
    try:
        return archive, pick_run(archive, run_id=run_id, run_dir=run_dir)
    except BaseException:
        archive.close()
        raise


def _run_dbs(base: Path, depth: int = 4) -> list[Path]:
    """archive.db files up to `depth` folders below `base` (runs/<problem>/<time>/ or …/multirun_*/<n>/)."""
    found: list[Path] = []
    for level in range(depth + 1):
        found.extend(p for p in base.glob("/".join(["*"] * level + [DB_NAME])) if p.is_file())
    return sorted(found)


def _configured_url(run_dir: Path) -> str | None:
    """The archive URL a run directory's config.yaml names (a run stored in a shared database)."""
    cfg = run_dir / "config.yaml"
    if not cfg.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    url = (data.get("archive") or {}).get("url") if isinstance(data, dict) else None
    return str(url) if url else None


# -- listing runs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunListing:
    """One run found under a folder (or in a database), or an archive that could not be read."""

    location: str
    run: RunRecord | None
    error: str | None = None


def find_runs(root: str) -> list[RunListing]:
    """Every run under the folder `root` (any depth), or every run in the database URL `root`."""
    if "://" in root:
        archive = open_archive(root)
        try:
            return [RunListing(_safe_url(root), r) for r in archive.list_runs()]
        finally:
            archive.close()
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ArchiveError(f"{root}: no such directory; run `evolve runs` in the folder where you ran "
                           "`evolve run`, or name the runs folder: evolve runs PATH")
    out: list[RunListing] = []
    for db in _run_dbs(base):
        location = str(db.parent)
        try:
            archive = open_archive(readonly_sqlite_url(db), location)
        except ArchiveError as exc:
            out.append(RunListing(location, None, str(exc)))
            continue
        try:
            runs = archive.list_runs()
            out.extend(RunListing(location, r) for r in runs)
            if not runs:
                out.append(RunListing(location, None, "no run recorded yet"))
        except ArchiveError as exc:
            out.append(RunListing(location, None, str(exc)))
        finally:
            archive.close()
    return out
