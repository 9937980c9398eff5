"""The live progress line: evaluations done, best score, evaluations per second, failures, spend."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from evolve.loop import Progress


class ProgressLine:
    """A live line on a terminal; a plain line every few seconds elsewhere (logs, CI)."""

    def __init__(self, total: int, console: Console | None = None, quiet: bool = False,
                 every_s: float = 5.0) -> None:
        self.total, self.quiet, self.every_s = total, quiet, every_s
        self.console = console or Console(stderr=True)
        self.live: Live | None = None
        self._last = 0.0

    def __enter__(self) -> ProgressLine:
        if not self.quiet and self.console.is_terminal:
            self.live = Live(Text(""), console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def text(self, p: Progress) -> str:
        best = "—" if p.best_score is None else f"{p.best_score:.4g}"
        fails = sum(v for k, v in p.statuses.items() if k not in ("ok",))
        parts = [f"evals {p.evaluations}/{self.total}", f"best {best}", f"{p.rate():.1f} eval/s",
                 f"ok {p.statuses.get('ok', 0)}", f"failed {fails}",
                 f"{time.monotonic() - p.started:,.0f}s"]
        if p.cost_usd or p.tokens:
            parts.append(f"${p.cost_usd:.4f} {p.tokens:,} tok")
        return " | ".join(parts)

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        if self.live is not None:
            self.live.update(Text(self.text(p)))
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.console.print(self.text(p), highlight=False)
