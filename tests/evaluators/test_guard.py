"""The audit-hook policy (tested on the verdict closure directly: an installed hook cannot be removed from
pytest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evaluators.guard import FORBIDDEN_MARK, make_hook, make_verdict


@pytest.fixture()
def verdict(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_verdict(str(tmp_path))


def test_files_inside_the_working_directory_are_allowed(verdict, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert verdict("open", (str(tmp_path / "a.txt"), "w", os.O_WRONLY | os.O_CREAT)) is None
    assert verdict("open", (str(tmp_path / "a.txt"), "r", os.O_RDONLY)) is None
    assert verdict("os.listdir", (str(tmp_path),)) is None
    assert verdict("os.remove", (str(tmp_path / "a.txt"), -1)) is None


def test_reading_outside_is_forbidden(verdict) -> None:  # type: ignore[no-untyped-def]
    assert "reading" in (verdict("open", ("/etc/passwd", "r", os.O_RDONLY)) or "")


def test_writing_outside_is_forbidden(verdict) -> None:  # type: ignore[no-untyped-def]
    assert "writing" in (verdict("open", ("/work/x", None, os.O_WRONLY | os.O_CREAT)) or "")


def test_device_nodes_are_readable(verdict) -> None:  # type: ignore[no-untyped-def]
    assert verdict("open", ("/dev/urandom", "rb", os.O_RDONLY)) is None


def test_symlink_pointing_outside_is_judged_by_its_target(verdict, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "link").symlink_to("/etc/passwd")
    assert verdict("open", (str(tmp_path / "link"), "r", os.O_RDONLY)) is not None


def test_relative_escape_is_forbidden(verdict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert verdict("open", ("../../etc/passwd", "r", os.O_RDONLY)) is not None


def test_listing_and_changing_outside_are_forbidden(verdict) -> None:  # type: ignore[no-untyped-def]
    assert verdict("os.listdir", ("/",)) is not None
    assert verdict("os.rename", ("/tmp/a", "/tmp/b", -1, -1)) is not None


def test_open_descriptors_are_allowed(verdict) -> None:  # type: ignore[no-untyped-def]
    assert verdict("open", (3, "wb", None)) is None


def test_a_path_object_of_the_candidate_is_outside(verdict, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    class Shifty:  # its __fspath__ could answer one path to the hook and another to the kernel
        def __fspath__(self) -> str:
            return str(tmp_path / "a")

    assert verdict("open", (Shifty(), "r", os.O_RDONLY)) is not None


@pytest.mark.parametrize("event", ["socket.__new__", "socket.connect", "os.fork", "os.system",
                                   "subprocess.Popen", "ctypes.dlopen", "gc.get_objects",
                                   "sys._current_frames"])
def test_reaching_outside_is_forbidden(verdict, event: str) -> None:  # type: ignore[no-untyped-def]
    assert verdict(event, ()) is not None


@pytest.mark.parametrize("module", ["subprocess", "_posixsubprocess"])
def test_importing_a_module_that_starts_processes_is_named_as_starting_a_process(verdict, module: str) -> None:  # type: ignore[no-untyped-def]
    assert verdict("import", (module, None, [], [], [])) == f"starting a process (import {module})"


def test_importing_other_modules_is_allowed(verdict) -> None:  # type: ignore[no-untyped-def]
    assert verdict("import", ("json", None, [], [], [])) is None


def test_harmless_events_pass(verdict) -> None:  # type: ignore[no-untyped-def]
    for event in ("compile", "exec", "import", "object.__setattr__", "time.sleep", "sys._getframe"):
        assert verdict(event, ()) is None


def test_a_refusal_is_reported_before_it_is_raised(verdict) -> None:  # type: ignore[no-untyped-def]
    reported: list[str] = []
    hook = make_hook(verdict, reported.append)
    with pytest.raises(PermissionError, match=FORBIDDEN_MARK):
        hook("socket.__new__", ())
    hook("exec", ())
    assert len(reported) == 1 and "network" in reported[0]


def test_the_policy_ignores_patched_modules(verdict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os.path, "realpath", lambda p: "/nowhere")
    monkeypatch.setattr(os, "fsdecode", lambda p: "/nowhere")
    assert verdict("open", ("/etc/passwd", "r", os.O_RDONLY)) is not None
