"""The audit-hook policy (tested on `Guard` directly: an installed hook cannot be removed from pytest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evaluators.guard import FORBIDDEN_MARK, Guard


@pytest.fixture()
def guard(tmp_path: Path) -> Guard:
    return Guard(str(tmp_path))


def test_files_inside_the_working_directory_are_allowed(guard: Guard, tmp_path: Path) -> None:
    assert guard.verdict("open", (str(tmp_path / "a.txt"), "w", os.O_WRONLY | os.O_CREAT)) is None
    assert guard.verdict("open", (str(tmp_path / "a.txt"), "r", os.O_RDONLY)) is None
    assert guard.verdict("os.listdir", (str(tmp_path),)) is None
    assert guard.verdict("os.remove", (str(tmp_path / "a.txt"), -1)) is None


def test_reading_outside_is_forbidden(guard: Guard) -> None:
    assert "reading" in (guard.verdict("open", ("/etc/passwd", "r", os.O_RDONLY)) or "")


def test_writing_outside_is_forbidden(guard: Guard) -> None:
    assert "writing" in (guard.verdict("open", ("/work/x", None, os.O_WRONLY | os.O_CREAT)) or "")


def test_device_nodes_are_readable(guard: Guard) -> None:
    assert guard.verdict("open", ("/dev/urandom", "rb", os.O_RDONLY)) is None


def test_symlink_pointing_outside_is_judged_by_its_target(guard: Guard, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/etc/passwd")
    assert guard.verdict("open", (str(tmp_path / "link"), "r", os.O_RDONLY)) is not None


def test_relative_escape_is_forbidden(guard: Guard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert guard.verdict("open", ("../../etc/passwd", "r", os.O_RDONLY)) is not None


def test_listing_and_changing_outside_are_forbidden(guard: Guard) -> None:
    assert guard.verdict("os.listdir", ("/",)) is not None
    assert guard.verdict("os.rename", ("/tmp/a", "/tmp/b", -1, -1)) is not None


def test_open_descriptors_are_allowed(guard: Guard) -> None:
    assert guard.verdict("open", (3, "wb", None)) is None


@pytest.mark.parametrize("event", ["socket.__new__", "socket.connect", "os.fork", "os.system",
                                   "subprocess.Popen", "ctypes.dlopen", "gc.get_objects"])
def test_reaching_outside_is_forbidden(guard: Guard, event: str) -> None:
    assert guard.verdict(event, ()) is not None


def test_harmless_events_pass(guard: Guard) -> None:
    for event in ("compile", "exec", "import", "object.__setattr__", "time.sleep"):
        assert guard.verdict(event, ()) is None


def test_a_refusal_is_sticky_and_marked(guard: Guard) -> None:
    with pytest.raises(PermissionError, match=FORBIDDEN_MARK):
        guard._hook("socket.__new__", ())
    guard._hook("exec", ())
    assert guard.reason is not None and "network" in guard.reason


def test_the_harness_own_actions_are_not_judged(guard: Guard) -> None:
    guard.trusted += 1
    guard._hook("open", ("/etc/passwd", "r", os.O_RDONLY))
    assert guard.reason is None
