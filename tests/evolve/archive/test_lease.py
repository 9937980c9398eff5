"""One owner per run: the lease is refused while its owner lives, taken over once it is gone or stale."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import pytest
from sqlalchemy import update

from evolve.archive import Archive
from evolve.archive.lease import Lease, LeaseHeld
from evolve.archive.models import LeaseRow, utcnow


@pytest.fixture
def archive(db_url: str):  # type: ignore[no-untyped-def]
    a = Archive(db_url)
    a.create_run("r1", "smtt", {}, 0, None)
    yield a
    a.close()


def _set(archive: Archive, **values: object) -> None:
    with archive.engine.begin() as conn:
        conn.execute(update(LeaseRow).where(LeaseRow.run_id == "r1").values(**values))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_owner_is_refused_with_the_owner_and_its_heartbeat(archive: Archive) -> None:
    assert Lease(archive, "r1").acquire() is None
    with pytest.raises(LeaseHeld) as err:
        Lease(archive, "r1").acquire()
    message = str(err.value)
    assert "owned by another process" in message and "pid" in message and "last heartbeat" in message
    assert "\n" not in message


def test_a_released_lease_is_free(archive: Archive) -> None:
    first = Lease(archive, "r1")
    first.acquire()
    first.release()
    assert Lease(archive, "r1").acquire() is None


def test_a_stale_lease_of_another_host_is_taken_over(archive: Archive) -> None:
    Lease(archive, "r1").acquire()
    _set(archive, host="elsewhere", pid=1, heartbeat_at=utcnow() - dt.timedelta(minutes=5))
    previous = Lease(archive, "r1").acquire()
    assert previous is not None and previous.host == "elsewhere"


def test_a_fresh_lease_of_another_host_is_kept(archive: Archive) -> None:
    Lease(archive, "r1").acquire()
    _set(archive, host="elsewhere", pid=_dead_pid())  # that pid means nothing on another machine
    with pytest.raises(LeaseHeld, match="host elsewhere"):
        Lease(archive, "r1").acquire()


def test_the_lease_of_a_dead_process_of_this_host_is_taken_over_at_once(archive: Archive) -> None:
    Lease(archive, "r1").acquire()
    pid = _dead_pid()
    _set(archive, pid=pid)
    previous = Lease(archive, "r1").acquire()
    assert previous is not None and previous.pid == pid


def test_of_many_racing_for_a_stale_lease_exactly_one_wins(archive: Archive) -> None:
    Lease(archive, "r1").acquire()
    _set(archive, host="elsewhere", heartbeat_at=utcnow() - dt.timedelta(minutes=5))
    barrier, outcomes = threading.Barrier(6), []

    def take() -> None:
        barrier.wait()
        try:
            Lease(archive, "r1").acquire()
            outcomes.append("won")
        except LeaseHeld:
            outcomes.append("refused")

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused"] * 5 + ["won"]


def test_an_owner_whose_lease_is_taken_learns_it_from_its_heartbeat(archive: Archive) -> None:
    first = Lease(archive, "r1", heartbeat_s=0.05)
    first.acquire()
    lost = threading.Event()
    first.keep(lambda reason: lost.set())
    assert not lost.wait(0.3)  # its own heartbeats keep it
    _set(archive, token="someone-else")
    assert lost.wait(10) and first.lost is not None and "lease lost" in first.lost
    first.release()
    assert Lease(archive, "r1").holder().token == "someone-else"  # releasing does not touch another's lease
