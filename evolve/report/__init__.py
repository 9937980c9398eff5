"""Run reports: one self-contained HTML file (charts, lineage, code; opens with no network) and Markdown."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evolve.archive import Archive, RunRecord
from evolve.errors import EvolveError
from evolve.report.data import ReportData, collect
from evolve.report.render import render_html, render_markdown


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    markdown: Path
    note: str | None  # e.g. why there is no successful program


def write_report(archive: Archive, run: RunRecord, html_path: Path | str, top_n: int = 20) -> WrittenReport:
    """Write `html_path` and the Markdown report next to it (same stem, .md); reads the archive only."""
    html_path = Path(html_path)
    data = collect(archive, run, top_n=top_n)
    md_path = html_path.with_suffix(".md")
    _write(html_path, render_html(data))
    _write(md_path, render_markdown(data))
    return WrittenReport(html_path, md_path, data.empty_reason)


def _write(path: Path, text: str) -> None:
    """Write atomically, so a browser never opens a half-written report."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise EvolveError(f"cannot write {path}: {exc.strerror or exc}") from exc


__all__ = ["ReportData", "WrittenReport", "collect", "render_html", "render_markdown", "write_report"]
