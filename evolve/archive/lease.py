"""One owner per run: a lease row in the archive (host, pid, token, heartbeat), taken atomically.

A process that runs or resumes a run takes its lease first. The lease is free when it was released,
when its heartbeat is older than `STALE_S`, or when its owner is a process of this machine that no
longer exists (a SIGKILLed run need not wait). Taking it is one conditional UPDATE that names the holder
it read, so of two processes racing for it exactly one wins, on SQLite and PostgreSQL alike. The owner
renews the heartbeat every `HEARTBEAT_S` from a thread; a renewal that finds another token has lost the
lease and tells the run to stop.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from evolve.archive.models import LeaseRow, utcnow
from evolve.archive.store import Archive
from evolve.errors import ArchiveError

log = logging.getLogger(__name__)

#: seconds between heartbeats of the owner
HEARTBEAT_S = 5.0
#: a lease whose heartbeat is this old is taken over (12 missed heartbeats: a stalled disk or a paused VM
#: must not hand a live run to a second process)
STALE_S = 60.0


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run's lease."""

    host: str
    pid: int
    token: str | None
    heartbeat_at: dt.datetime

    def describe(self, now: dt.datetime | None = None) -> str:
        age = ((now or utcnow()) - self.heartbeat_at).total_seconds()
        return (f"host {self.host}, pid {self.pid}, last heartbeat {age:.0f} s ago "
                f"({self.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)")


class LeaseHeld(ArchiveError):
    """Another live process owns the run."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class Lease:
    """This process's claim on one run of an archive."""

    def __init__(self, archive: Archive, run_id: str, *, stale_s: float = STALE_S,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.archive, self.run_id = archive, run_id
        self.host, self.pid, self.token = socket.gethostname(), os.getpid(), uuid.uuid4().hex
        self.stale_s, self.heartbeat_s = stale_s, heartbeat_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: str | None = None

    # -- taking and giving back ----------------------------------------------------------------------
    def acquire(self) -> Holder | None:
        """Take the lease; returns the previous holder when it was taken over from one (None: it was
        free or released). Raises LeaseHeld, naming the owner, while a live process holds it."""
        now = utcnow()
        mine = {"host": self.host, "pid": self.pid, "token": self.token, "acquired_at": now, "heartbeat_at": now}
        try:
            with self.archive.engine.begin() as conn:
                conn.execute(insert(LeaseRow).values(run_id=self.run_id, **mine))
            return None
        except IntegrityError:
            pass  # the run has a lease row: look at its holder
        except SQLAlchemyError as exc:
            raise self.archive._failed(exc) from exc
        held = self.holder()
        if held is None:  # deleted in between (the run was deleted): nothing to own
            raise ArchiveError(f"run {self.run_id} vanished from the archive while starting")
        if held.token is not None and not self._free(held, now):
            raise LeaseHeld(self._refusal(held, now))
        stmt = update(LeaseRow).where(LeaseRow.run_id == self.run_id, LeaseRow.heartbeat_at == held.heartbeat_at,
                                      LeaseRow.token.is_(None) if held.token is None else
                                      LeaseRow.token == held.token).values(**mine)
        try:
            with self.archive.engine.begin() as conn:
                won = conn.execute(stmt).rowcount == 1
        except SQLAlchemyError as exc:
            raise self.archive._failed(exc) from exc
        if not won:  # another process took it between our read and our write
            current = self.holder()
            raise LeaseHeld(self._refusal(current or held, utcnow()))
        return held if held.token is not None else None

    def _free(self, held: Holder, now: dt.datetime) -> bool:
        if (now - held.heartbeat_at).total_seconds() > self.stale_s:
            return True
        return held.host == self.host and held.pid != self.pid and not _alive(held.pid)

    def _refusal(self, held: Holder, now: dt.datetime) -> str:
        return (f"run {self.run_id} is owned by another process ({held.describe(now)}): it is still running; "
                f"wait for it to end or stop it (kill {held.pid} on {held.host}); a lease is taken over once "
                f"its owner is gone or {self.stale_s:.0f} s pass without a heartbeat")

    def holder(self) -> Holder | None:
        """The run's current lease holder as stored (None: no lease row)."""
        with self.archive.engine.connect() as conn:
            row = conn.execute(select(LeaseRow.host, LeaseRow.pid, LeaseRow.token, LeaseRow.heartbeat_at)
                               .where(LeaseRow.run_id == self.run_id)).first()
        return None if row is None else Holder(row.host, row.pid, row.token, row.heartbeat_at)

    def release(self) -> None:
        """Stop the heartbeat and give the lease back (only if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            with self.archive.engine.begin() as conn:
                conn.execute(update(LeaseRow).where(LeaseRow.run_id == self.run_id, LeaseRow.token == self.token)
                             .values(token=None, heartbeat_at=utcnow()))
        except SQLAlchemyError as exc:  # the lease then goes stale and is taken over: nothing is lost
            log.warning("could not release the lease of run %s: %s", self.run_id, str(exc).splitlines()[0])

    # -- keeping it ----------------------------------------------------------------------------------
    def beat(self) -> bool:
        """Renew the heartbeat; False when the lease is no longer ours."""
        with self.archive.engine.begin() as conn:
            return conn.execute(update(LeaseRow).where(LeaseRow.run_id == self.run_id, LeaseRow.token == self.token)
                                .values(heartbeat_at=utcnow())).rowcount == 1

    def keep(self, on_lost: Callable[[str], None]) -> None:
        """Renew the heartbeat from a daemon thread until `release`; `on_lost(reason)` if it is taken."""
        def loop() -> None:
            while not self._stop.wait(self.heartbeat_s):
                try:
                    ours = self.beat()
                except SQLAlchemyError as exc:  # a busy or unreachable database: try again next beat
                    log.warning("lease heartbeat of run %s failed: %s", self.run_id, str(exc).splitlines()[0])
                    continue
                if not ours:
                    held = self.holder()
                    self.lost = ("lease lost: another process took the run over"
                                 + (f" ({held.describe()})" if held and held.token else ""))
                    log.info("%s; stopping without further writes", self.lost)
                    on_lost(self.lost)
                    return

        self._thread = threading.Thread(target=loop, name=f"lease-{self.run_id}", daemon=True)
        self._thread.start()
