"""The archive's storage: one SQLAlchemy engine, one session helper, frozen records out.

SQLite (WAL, foreign keys on, busy timeout) by default; any SQLAlchemy URL works, PostgreSQL for runs
shared by many machines. The schema is created and upgraded by the Alembic migrations shipped in
evolve/archive/migrations. The database is the checkpoint: a run resumes from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, event, func, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, defer, sessionmaker

from evolve.archive.base import RUN_FIELDS, Storage
from evolve.archive.models import Base, EvaluationRow, EventRow, LLMCallRow, ProgramRow, RunRow, utcnow
from evolve.archive.records import LLMCallRecord, ProgramRecord, RunRecord, StageRecord
from evolve.errors import ArchiveError

DB_NAME = "archive.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def _row_template(table: Any, per_call: Sequence[str]) -> tuple[dict[str, Any], frozenset[str]]:
    """Every column of `table` a caller may leave out, with the model's default (None where it has none),
    and the columns a caller must give: one prepared INSERT, whose columns the models define, serves every
    call. `per_call` are set by the store itself (the run, the time)."""
    template: dict[str, Any] = {}
    required = set()
    for c in table.columns:
        if c.primary_key or c.key in per_call:  # the database numbers the rows; the store sets `per_call`
            continue
        if c.default is not None:
            template[c.key] = c.default.arg(None) if c.default.is_callable else c.default.arg
        elif c.nullable:
            template[c.key] = None
        else:
            required.add(c.key)
    return template, frozenset(required)


_PROGRAM_ROW, _ = _row_template(ProgramRow.__table__, ("run_id", "job_id", "created_at"))
_LLM_CALL_ROW, _LLM_CALL_NEEDS = _row_template(LLMCallRow.__table__, ("run_id", "created_at"))
_STAGE_KEYS = tuple(c.key for c in EvaluationRow.__table__.columns if not c.primary_key)
# the hot path's statements, built once (SQLAlchemy caches their compiled form; the SQLite fast path
# compiles these same statements: see _Direct)
_FIND_JOB = select(ProgramRow.id).where(ProgramRow.run_id == bindparam("r"), ProgramRow.job_id == bindparam("j"))
_INSERT_PROGRAM = insert(ProgramRow).returning(ProgramRow.id)
_RUN_OF = select(ProgramRow.run_id).where(ProgramRow.id == bindparam("p"))
_COMPLETE_PROGRAM = update(ProgramRow).where(ProgramRow.id == bindparam("p")).values(
    {c: bindparam(c) for c in ("status", "score", "metrics", "error", "features", "cell", "eval_index", "stage",
                               "eval_seconds", "evaluated_at")})
# the run's counter only moves forward, whoever writes last (a stale writer cannot lower it)
_COUNT_RUN = update(RunRow).where(RunRow.id == bindparam("r"), RunRow.evaluations <= bindparam("evaluations")).values(
    evaluations=bindparam("evaluations"), heartbeat_at=bindparam("heartbeat_at"))
_INSERT_LLM_CALLS = insert(LLMCallRow)
_INSERT_STAGES = insert(EvaluationRow)


def _llm_call_values(run_id: str, fields: Mapping[str, Any], now: Any) -> dict[str, Any]:
    values = {**_LLM_CALL_ROW, **fields, "run_id": run_id, "created_at": fields.get("created_at") or now}
    bad = set(values) - set(_LLM_CALL_ROW) - {"run_id", "created_at"} - _LLM_CALL_NEEDS
    if bad or not _LLM_CALL_NEEDS <= set(values):
        raise ValueError(f"an LLM call needs {sorted(_LLM_CALL_NEEDS)} and takes no {sorted(bad)}")
    return values


def sqlite_url(path: Path | str) -> str:
    """A SQLAlchemy URL for a SQLite file (characters such as `?` and `%` in the path are kept literal)."""
    from sqlalchemy.engine import URL

    return URL.create("sqlite", database=str(Path(path).resolve())).render_as_string()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


#: key of the PostgreSQL advisory lock held while migrating (any constant; "evolve" in ASCII)
SCHEMA_LOCK_KEY = 0x65766F6C7665
_migrate_lock = threading.Lock()  # alembic's op/context proxies are process-global


@contextlib.contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one database across threads and processes.

    SQLite: an flock on a lock file in the temp dir named after the database (never on the database
    file itself: closing any descriptor of it would drop SQLite's own POSIX locks); pysqlite commits DDL
    statement by statement, so a racing process would otherwise see half a schema. PostgreSQL: a
    transaction-level advisory lock, taken in `upgrade_schema`'s transaction.
    """
    with _migrate_lock:
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        if not path or path == ":memory:" or path.startswith("file:"):
            yield
            return
        key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:24]
        with open(Path(tempfile.gettempdir()) / f"evolve-migrate-{key}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


#: the newest revision in migrations/versions (tests check it against Alembic's own view of the scripts)
SCHEMA_HEAD = "0002_30"


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest schema with the shipped Alembic migrations.

    Safe when several processes open a fresh database at once: they migrate one after the other, and
    the later ones find the schema current. A database already at the head, or a brand-new one (which
    gets the models' tables and the head stamp, the same schema the migrations build, as a test checks),
    is handled without importing Alembic, which costs most of a second at every start.
    """
    with _schema_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")
        tables = set(inspect(conn).get_table_names())
        check_revision(conn, str(engine.url))
        if "alembic_version" in tables:
            if conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == SCHEMA_HEAD:
                return
        elif not tables:
            Base.metadata.create_all(conn)
            conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                                 "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            conn.exec_driver_sql(f"INSERT INTO alembic_version (version_num) VALUES ('{SCHEMA_HEAD}')")
            return
        alembic_upgrade(conn)


def known_revisions() -> set[str]:
    """The schema revisions this version of evolve ships (read from the migration scripts, without Alembic)."""
    found = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        match = re.search(r'^revision\s*=\s*["\']([^"\']+)["\']', script.read_text(), re.M)
        if match:
            found.add(match.group(1))
    return found


def check_revision(conn: Connection, url: str) -> None:
    """Refuse a database whose schema revision this version of evolve does not know (a newer evolve wrote it,
    or the stamp is damaged): reading or migrating it would fail half-way."""
    if not inspect(conn).has_table("alembic_version"):
        return
    version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    if version is None or version == SCHEMA_HEAD or version in known_revisions():
        return
    raise ArchiveError(f"archive {_safe_url(url)} is at schema revision {version!r}, which this version of evolve "
                       f"does not know (it knows up to {SCHEMA_HEAD}): it was written by a newer evolve, or its "
                       "alembic_version table is damaged; open it with that newer evolve (pip install -U evolve)")


def damage_advice(exc: BaseException) -> str:
    """What to do about a SQLite file that is not a (whole) database; empty for other errors."""
    text = str(exc)
    if "malformed" in text or "not a database" in text or "disk image" in text:
        return ("; the file is damaged (truncated or overwritten): restore it from a backup, or salvage what is "
                "left with `sqlite3 archive.db .recover | sqlite3 recovered.db`")
    return ""


def alembic_upgrade(conn: Connection) -> None:
    """Bring the database behind `conn` to the newest shipped migration (Alembic `upgrade head`)."""
    import logging

    from alembic import command
    from alembic.config import Config

    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Archive(Storage):
    """The archive on SQLAlchemy: any SQL database by URL. One process writes a run; any number may read."""

    def __init__(self, url: str, *, create: bool = True, upgrade: bool = True) -> None:
        self.url = url
        try:
            url = self.url = _driver_url(url)
            #: how messages name this archive (no password); the browser sets the name the user gave
            self.shown = _safe_url(url)
            kwargs: dict[str, Any] = {"future": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            else:
                # a server may drop idle connections (restarts, proxies): check before use, recycle hourly
                kwargs.update(pool_pre_ping=True, pool_recycle=3600, pool_size=4, max_overflow=4)
            if url.startswith("postgresql+psycopg"):
                kwargs["connect_args"] = {"application_name": "evolve", "connect_timeout": 30}
            self.engine = create_engine(url, **kwargs)
            self._insert_program = _insert_program(self.engine.dialect.name)
            #: the hot-path statements run on the SQLite driver directly (see _Direct); none elsewhere
            self._direct = _direct_sqlite(self.engine.dialect, self._insert_program) \
                if self.engine.dialect.driver == "pysqlite" else {}
            if url.startswith("sqlite"):
                event.listen(self.engine, "connect", _sqlite_pragmas)
            if not create and not inspect(self.engine).has_table("runs"):
                raise ArchiveError(f"{_safe_url(url)} holds no evolve archive (no 'runs' table)")
            if upgrade:
                upgrade_schema(self.engine)
            else:
                with self.engine.connect() as conn:
                    check_revision(conn, url)
        except ArchiveError:
            raise
        except ImportError as exc:  # the URL's database driver is an optional extra
            driver = exc.name or "its driver"
            fix = "pip install 'evolve[postgres]'" if driver.startswith("psycopg") else f"pip install {driver}"
            raise ArchiveError(f"cannot open the archive at {_safe_url(url)}: its database driver {driver} is not "
                               f"installed ({fix})") from exc
        except SQLAlchemyError as exc:
            raise ArchiveError(f"cannot open the archive at {_safe_url(url)}: {exc.__class__.__name__}: "
                               f"{str(exc).splitlines()[0]}{damage_advice(exc)}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._batch: Connection | None = None
        self._batch_stack: contextlib.ExitStack | None = None  # set while a batch block is open

    @classmethod
    def for_run_dir(cls, run_dir: Path | str, *, create: bool = False) -> Archive:
        path = Path(run_dir) / DB_NAME
        if not create and not path.is_file():
            raise ArchiveError(f"{run_dir} is not a run directory: it has no {DB_NAME}")
        return cls(sqlite_url(path), create=create)

    def close(self) -> None:
        self.engine.dispose()

    def check_integrity(self) -> None:
        """Refuse a damaged SQLite file before writing to it (PRAGMA quick_check reads every page: about a
        second per few hundred MB); other databases guard their own pages."""
        if self.engine.dialect.name != "sqlite":
            return
        try:
            with self.engine.connect() as conn:
                found = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(3)")]
        except DatabaseError as exc:
            raise self._failed(exc) from exc
        if found != ["ok"]:
            raise ArchiveError(f"archive {self.shown}: {found[0]}"
                               f"{damage_advice(Exception('malformed'))}")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group every write inside the block into one transaction (the loop's writer batches this way).

        The transaction begins with the block's first statement: a turn of the loop that writes nothing
        costs no BEGIN/COMMIT.
        """
        if self._batch_stack is not None:
            yield
            return
        try:
            with contextlib.ExitStack() as stack:
                self._batch_stack = stack
                yield
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise self._failed(exc) from exc
        finally:
            self._batch, self._batch_stack = None, None

    def _batch_conn(self) -> Connection | None:
        """The open batch's connection (its transaction begun on first use), or None outside a batch."""
        if self._batch_stack is None:
            return None
        if self._batch is None:
            self._batch = self._batch_stack.enter_context(self.engine.begin())
        return self._batch

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Connection]:
        """The batch's connection, or a fresh transaction that commits at the end of the block."""
        batch = self._batch_conn()
        if batch is not None:
            yield batch
            return
        try:
            with self.engine.begin() as conn:
                yield conn
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: Exception) -> ArchiveError:
        """The ArchiveError for a database error: the archive's URL (no password) and the error's first line."""
        return ArchiveError(f"archive {self.shown}: {str(exc).splitlines()[0]}{damage_advice(exc)}")

    def _execute(self, conn: Connection, stmt: Any, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) \
            -> Any:
        """Run `stmt` with one row of values, or a list of rows, in `conn`'s transaction: on the SQLite
        driver directly when it is a hot-path statement there, through SQLAlchemy otherwise. Either
        result has `rowcount` and `fetchone()`."""
        direct = self._direct.get(id(stmt))
        if direct is None:
            return conn.execute(stmt, values)
        return self._run_direct(conn, direct, values)

    def _run_direct(self, conn: Connection, stmt: _Direct, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) \
            -> sqlite3.Cursor:
        driver = conn.connection.driver_connection
        try:
            if isinstance(values, Mapping):
                return driver.execute(stmt.sql, stmt.args(values))  # type: ignore[union-attr,no-any-return]
            return driver.executemany(stmt.sql, [stmt.args(v) for v in values])  # type: ignore[union-attr,no-any-return]
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:  # locked, disk full, damaged…: as the
            # SQLAlchemy path says it (an IntegrityError is no DatabaseError of the driver's here: it is raised)
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise self._failed(exc) from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error, maps errors to ArchiveError."""
        batch = self._batch_conn()
        if batch is not None:  # join the batch's transaction
            joined = Session(bind=batch, expire_on_commit=False,
                             join_transaction_mode="create_savepoint")
            try:
                yield joined
                joined.commit()
            finally:
                joined.close()
            return
        sess = self._sessions()
        try:
            yield sess
            sess.commit()
        except IntegrityError:
            sess.rollback()
            raise
        except DatabaseError as exc:
            sess.rollback()
            raise self._failed(exc) from exc
        except BaseException:
            sess.rollback()
            raise
        finally:
            sess.close()

    # -- runs --------------------------------------------------------------------------------------
    def create_run(self, run_id: str, problem: str, config: dict[str, Any], seed: int, run_dir: str | None,
                   meta: dict[str, Any] | None = None) -> RunRecord:
        with self.session() as s:
            row = RunRow(id=run_id, problem=problem, config=config, seed=seed, run_dir=run_dir,
                         meta=meta or {}, status="running", heartbeat_at=utcnow())
            s.add(row)
            s.flush()
            return _run(row)

    def get_run(self, run_id: str | None = None) -> RunRecord:
        """The run `run_id`, or the only/newest run in this database when None."""
        with self.session() as s:
            if run_id is None:
                row = s.scalars(select(RunRow).order_by(RunRow.started_at.desc()).limit(1)).first()
            else:
                row = s.get(RunRow, run_id)
            if row is None:
                raise ArchiveError(f"no run {run_id!r} in {_safe_url(self.url)}" if run_id else
                                   f"{_safe_url(self.url)} holds no run yet")
            return _run(row)

    def list_runs(self) -> list[RunRecord]:
        with self.session() as s:
            return [_run(r) for r in s.scalars(select(RunRow).order_by(RunRow.started_at))]

    def update_run(self, run_id: str, **fields: Any) -> None:
        bad = set(fields) - RUN_FIELDS
        if bad:
            raise ValueError(f"cannot update run fields {sorted(bad)}")
        with self.session() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(**fields))

    # -- programs ----------------------------------------------------------------------------------
    def add_program(self, run_id: str, job_id: str, **fields: Any) -> int:
        """Insert a program (idempotent on job_id: a retried job returns the existing id)."""
        values = {**_PROGRAM_ROW, **fields, "run_id": run_id, "job_id": job_id, "created_at": utcnow()}
        bad = set(values) - set(_PROGRAM_ROW) - {"run_id", "job_id", "created_at"}
        if bad:
            raise ValueError(f"unknown program fields {sorted(bad)}")
        with self._conn() as conn:
            if self._insert_program is not None:  # one statement, and a writer that loses a race waits
                row = self._execute(conn, self._insert_program, values).fetchone()
                if row is not None:
                    return int(row[0])
            existing = conn.execute(_FIND_JOB, {"r": run_id, "j": job_id}).scalar()
            if existing is not None:
                return int(existing)
            return int(conn.execute(_INSERT_PROGRAM, values).scalar_one())

    def complete_program(self, program_id: int, *, status: str, score: float | None,
                         metrics: dict[str, Any], stages: Sequence[Any], error: str | None,
                         features: dict[str, Any] | None = None, cell: str | None = None,
                         eval_index: int | None = None, run_evaluations: int | None = None,
                         run_id: str | None = None) -> None:
        """Store an outcome and its per-stage results; optionally bump the run's evaluation counter.

        `run_id`, when the caller knows it, saves looking it up.
        """
        now = utcnow()
        with self._conn() as conn:
            if run_id is None:
                run_id = conn.execute(_RUN_OF, {"p": program_id}).scalar()
                if run_id is None:
                    raise ArchiveError(f"no program {program_id}")
            done = {"p": program_id, "status": status, "score": score, "metrics": metrics, "error": error,
                    "features": features or {}, "cell": cell, "eval_index": eval_index,
                    "stage": stages[-1].split if stages else None,
                    "eval_seconds": float(sum(st.seconds for st in stages)), "evaluated_at": now}
            rows = [{"program_id": program_id, "split": st.split, "status": st.status, "metrics": st.metrics,
                     "error": st.error, "failed_instance": st.failed_instance, "seconds": st.seconds,
                     "stdout": st.stdout or None, "stderr": st.stderr or None,
                     "feedback": st.feedback or None, "created_at": now}
                    for st in stages]
            if self._execute(conn, _COMPLETE_PROGRAM, done).rowcount == 0:
                raise ArchiveError(f"no program {program_id}")
            if rows:
                self._execute(conn, _INSERT_STAGES, rows)
            if run_evaluations is not None:
                self._execute(conn, _COUNT_RUN, {"r": run_id, "evaluations": run_evaluations, "heartbeat_at": now})

    def set_holdout(self, program_id: int, metrics: dict[str, Any], stage: Any | None = None) -> None:
        with self.session() as s:
            row = s.get(ProgramRow, program_id)
            if row is None:
                raise ArchiveError(f"no program {program_id}")
            row.holdout = metrics
            if stage is not None:
                s.add(EvaluationRow(program_id=program_id, split=stage.split, status=stage.status,
                                    metrics=stage.metrics, error=stage.error,
                                    failed_instance=stage.failed_instance, seconds=stage.seconds))

    def program(self, program_id: int, run_id: str | None = None) -> ProgramRecord:
        with self.session() as s:
            row = s.get(ProgramRow, program_id)
            if row is None or (run_id is not None and row.run_id != run_id):
                raise ArchiveError(f"no program with id {program_id}" + (f" in run {run_id}" if run_id else "")
                                   + "; `evolve archive top RUN` lists the ids")
            stages = s.scalars(select(EvaluationRow).where(EvaluationRow.program_id == program_id)
                               .order_by(EvaluationRow.id)).all()
            return _program(row, stages)

    def programs(self, run_id: str, *, statuses: Sequence[str] | None = None,
                 roles: Sequence[str] | None = None, with_code: bool = True) -> list[ProgramRecord]:
        """Programs of a run in insertion order (no per-stage detail; code "" unless `with_code`)."""
        with self.session() as s:
            q = select(ProgramRow).where(ProgramRow.run_id == run_id)
            if not with_code:
                q = q.options(defer(ProgramRow.code), defer(ProgramRow.edit))
            if statuses:
                q = q.where(ProgramRow.status.in_(list(statuses)))
            if roles:
                q = q.where(ProgramRow.role.in_(list(roles)))
            return [_program(r) for r in s.scalars(q.order_by(ProgramRow.id))]

    def top(self, run_id: str, n: int = 10, *, island: int | None = None, status: str | None = "ok",
            roles: Sequence[str] = ("seed", "candidate")) -> list[ProgramRecord]:
        """The best programs of a run, best first (ties: earlier first)."""
        with self.session() as s:
            q = select(ProgramRow).where(ProgramRow.run_id == run_id, ProgramRow.role.in_(list(roles)))
            if status:
                q = q.where(ProgramRow.status == status)
            if island is not None:
                q = q.where(ProgramRow.island == island)
            q = q.order_by(ProgramRow.score.desc().nulls_last(), ProgramRow.id).limit(n)
            return [_program(r) for r in s.scalars(q)]

    def status_counts(self, run_id: str) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(ProgramRow.status, func.count()).where(
                ProgramRow.run_id == run_id, ProgramRow.role == "candidate").group_by(ProgramRow.status))
            return {str(k): int(v) for k, v in rows}

    # -- llm calls and events ----------------------------------------------------------------------
    def add_llm_calls(self, run_id: str, calls: Sequence[Mapping[str, Any]], program_id: int | None = None) -> None:
        """Insert several calls in one statement (the loop stores a proposal's calls with its program)."""
        if not calls:
            return
        now = utcnow()
        rows = [_llm_call_values(run_id, {**call, "program_id": program_id}
                                 if program_id is not None else call, now) for call in calls]
        with self._conn() as conn:
            self._execute(conn, _INSERT_LLM_CALLS, rows)

    def llm_spent(self, run_id: str) -> tuple[float, int, int]:
        """What the run's LLM calls have spent so far: USD, tokens, and the number of calls answered
        (the budget a resumed run continues from)."""
        with self.session() as s:
            cost, tokens = s.execute(select(func.sum(LLMCallRow.cost_usd), func.sum(
                LLMCallRow.prompt_tokens + LLMCallRow.completion_tokens)).where(LLMCallRow.run_id == run_id)).one()
            answered = s.execute(select(func.count()).where(LLMCallRow.run_id == run_id,
                                                            LLMCallRow.response.is_not(None))).scalar()
        return float(cost or 0.0), int(tokens or 0), int(answered or 0)

    def llm_calls(self, run_id: str) -> list[LLMCallRecord]:
        with self.session() as s:
            rows = s.scalars(select(LLMCallRow).where(LLMCallRow.run_id == run_id).order_by(LLMCallRow.id))
            return [LLMCallRecord(**{c: getattr(r, c) for c in LLMCallRecord.__dataclass_fields__})
                    for r in rows]

    def add_event(self, run_id: str, kind: str, message: str = "", data: dict[str, Any] | None = None) -> None:
        with self.session() as s:
            s.add(EventRow(run_id=run_id, kind=kind, message=message, data=data or {}))

    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(EventRow).where(EventRow.run_id == run_id)
            if kind:
                q = q.where(EventRow.kind == kind)
            return [{"kind": e.kind, "message": e.message, "data": e.data, "created_at": e.created_at}
                    for e in s.scalars(q.order_by(EventRow.id))]


class _Direct:
    """A hot-path statement compiled once for SQLite and run on the driver's own connection.

    SQLAlchemy's execution layer costs about 55 us a statement, half of a program row's insert, on
    the loop thread that every proposal and outcome goes through. Here the statement is compiled by
    SQLAlchemy, and each parameter goes through the bind processor SQLAlchemy itself would apply (JSON,
    DateTime, Float), so the rows are byte for byte what the ORM path writes. It runs on the connection
    of the open transaction, so it commits or rolls back with the rest of the batch.
    """

    def __init__(self, stmt: Any, dialect: Any, keys: Sequence[str] | None = None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        self.sql = compiled.string
        names = list(compiled.positiontup or ())
        missing = set(names) - set(keys or names)
        if missing:  # a column SQLAlchemy would fill with a default: not a statement for this path
            raise ValueError(f"direct statement needs values for {sorted(missing)}")
        self.params = [(n, compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names]

    def args(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[n] if proc is None else proc(values[n]) for n, proc in self.params)


def _direct_sqlite(dialect: Any, insert_program: Any) -> dict[int, _Direct]:
    """The statements the loop runs for every candidate, for a SQLite archive, by id of the statement."""
    return {id(stmt): _Direct(stmt, dialect, keys) for stmt, keys in (
        (insert_program, [*_PROGRAM_ROW, "run_id", "job_id", "created_at"]),
        (_COMPLETE_PROGRAM, None),
        (_INSERT_STAGES, list(_STAGE_KEYS)),
        (_COUNT_RUN, None),
        (_INSERT_LLM_CALLS, [*_LLM_CALL_ROW, "run_id", "created_at", *sorted(_LLM_CALL_NEEDS)]))}


def _insert_program(dialect: str) -> Any:
    """INSERT … ON CONFLICT (run_id, job_id) DO NOTHING RETURNING id, where the dialect has it.

    Idempotent under races: when another writer stores the same job first, no second row is attempted
    (a plain INSERT would fail and abort the loop's batch transaction) and the caller reads the first id.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(ProgramRow).on_conflict_do_nothing(
            index_elements=["run_id", "job_id"]).returning(ProgramRow.id)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(ProgramRow).on_conflict_do_nothing(
            index_elements=["run_id", "job_id"]).returning(ProgramRow.id)
    return None


def _driver_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` mean psycopg 3 (the postgres extra), not SQLAlchemy's psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return url


def _run(r: RunRow) -> RunRecord:
    return RunRecord(id=r.id, problem=r.problem, status=r.status, stop_reason=r.stop_reason,
                     config=r.config or {}, seed=r.seed, run_dir=r.run_dir, meta=r.meta or {},
                     evaluations=r.evaluations, best_program_id=r.best_program_id, best_score=r.best_score,
                     started_at=r.started_at, finished_at=r.finished_at, heartbeat_at=r.heartbeat_at,
                     rng_state=r.rng_state, search_state=r.search_state)


def _program(r: ProgramRow, stages: Sequence[EvaluationRow] = ()) -> ProgramRecord:
    unloaded = inspect(r).unloaded
    return ProgramRecord(
        id=r.id, run_id=r.run_id, job_id=r.job_id, role=r.role, name=r.name, parent_id=r.parent_id,
        inspiration_ids=tuple(r.inspiration_ids or ()), island=r.island, cell=r.cell,
        generation=r.generation, code="" if "code" in unloaded else r.code, code_hash=r.code_hash,
        edit=None if "edit" in unloaded else r.edit, edit_kind=r.edit_kind,
        model=r.model, prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens,
        cost_usd=r.cost_usd, status=r.status, score=r.score, metrics=r.metrics or {}, holdout=r.holdout,
        features=r.features or {}, error=r.error, stage=r.stage, eval_seconds=r.eval_seconds,
        eval_index=r.eval_index, created_at=r.created_at,
        stages=tuple(StageRecord(e.split, e.status, e.metrics or {}, e.error, e.failed_instance, e.seconds,
                                 e.stdout, e.stderr, e.feedback) for e in stages))

