"""Stored text (code, errors, candidate output, LLM replies, edits) reaches the terminal with its control
characters escaped: a candidate cannot clear the screen, write the clipboard (OSC 52) or print a fake line."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_builder import SEED_CODE, Built

from evolve.archive import Archive
from evolve.archive.store import sqlite_url
from evolve.evaluation import StageResult
from evolve.report.text import printable

CLEAR = "\x1b[2J\x1b[H"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
FAKE = "\rbest score 999.0 (verified)"
HOSTILE = f"{CLEAR}{CLIPBOARD}oops{FAKE}\x9b31m\u202egnp.exe"


def _hostile_program(built: Built) -> int:
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    try:
        pid = a.add_program(built.run_id, "evil", parent_id=built.better, island=0, generation=2,
                            code=SEED_CODE.replace("return d", f"return d  # {HOSTILE}"), code_hash="evil",
                            edit=f"replace: d -> {HOSTILE}", edit_kind="offline:replace", model="offline")
        a.complete_program(pid, status="crash", score=None, metrics={}, error=f"Traceback: {HOSTILE}",
                           stages=[StageResult("quick", "crash", error=f"ValueError: {HOSTILE}",
                                               failed_instance=f"quick/{HOSTILE}", seconds=0.01,
                                               stdout=f"out {HOSTILE}", stderr=f"err {HOSTILE}")],
                           eval_index=4, run_evaluations=4)
        a.add_llm_calls(built.run_id, [dict(model="gpt-test", kind="diff", prompt=f"prompt {HOSTILE}",
                                            response=f"reply {HOSTILE}", status="ok", error=None)], program_id=pid)
        a.update_run(built.run_id, stop_reason=f"stopped {HOSTILE}")
    finally:
        a.close()
    return pid


def _assert_safe(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x9b", "\r", "\u202e"):
        assert bad not in text, f"{bad!r} reached the terminal"


@pytest.mark.parametrize("command", [["archive", "show", "{run}", "{id}"], ["archive", "diff", "{run}", "{id}"],
                                     ["archive", "lineage", "{run}", "{id}"],
                                     ["archive", "top", "{run}", "--status", "all"], ["runs", "{runs}"]],
                         ids=["show", "diff", "lineage", "top", "runs"])
def test_control_characters_in_stored_text_are_shown_escaped(cli, built: Built, command: list[str]) -> None:
    pid = _hostile_program(built)
    args = [c.format(run=built.run_dir, id=pid, runs=built.run_dir.parents[1]) for c in command]
    proc = cli(args, timeout=120, env={"COLUMNS": "300", "TERM": "xterm-256color"})
    assert proc.returncode == 0, proc.stderr
    _assert_safe(proc.stdout)
    if command[1] in ("show", "diff"):
        assert "\\x1b]52;c;" in proc.stdout  # shown, not executed


def test_the_text_report_escapes_control_characters(cli, built: Built) -> None:
    _hostile_program(built)
    proc = cli(["report", str(built.run_dir), "--top", "50"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    markdown = (built.run_dir / "report.md").read_text()
    _assert_safe(markdown)
    assert "oops" in markdown


def test_printable_keeps_text_and_layout_and_escapes_the_rest() -> None:
    assert printable("a\tb\nc é ✓") == "a\tb\nc é ✓"
    assert printable("x\r\ny") == "x\ny"
    assert printable("\x1b[2J\x07\r\x00\x7f\x9b\u202e") == "\\x1b[2J\\x07\\r\\x00\\x7f\\x9b\\u202e"
    assert printable(None) == ""


def test_export_keeps_the_code_exactly(cli, built: Built, tmp_path: Path) -> None:
    pid = _hostile_program(built)
    out = tmp_path / "p.py"
    assert cli(["archive", "export", str(built.run_dir), str(pid), "-o", str(out)]).returncode == 0
    with open(out, encoding="utf-8", newline="") as fh:
        assert HOSTILE in fh.read()  # a file, not the terminal: the program as stored
