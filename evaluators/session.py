"""Interactive episodes: the trusted simulator steps in the parent, the candidate only answers observations.

A job with `Job.interactive` set runs each instance as an episode. The parent opens a `Session` for the
instance (trusted code: a simulator and its state), sends the candidate's process the session's first
observation, and then, one round trip per step, receives the entry function's decision, hands it to
`Session.step`, and sends the next observation back, until the session says the episode is over. The
instance's output is then `Session.result()`, made in the parent. So the candidate's process only ever
holds the past and the present of an episode: whatever it remembers between calls (module globals, the
driver's state), it cannot have read what has not happened yet, nor changed the simulator's state.

Each step is bounded on both sides: `StepLimits.step_wall_s` of the parent's clock per call (the episode
and the split keep `Limits.instance_wall_s` and `split_wall_s`), `max_steps` per episode, and
`reply_bytes` per decision (the child refuses to encode more, the parent refuses a larger frame).
Knows nothing about any particular problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class InvalidDecision(Exception):
    """Raised by `Session.step` for a decision that breaks the problem's rules (the run is `invalid`)."""


class Session(Protocol):
    """The parent side of one episode (trusted code)."""

    def begin(self) -> tuple[Any, ...]:
        """The first observation: the positional arguments of the first call of the entry function."""

    def step(self, decision: Any) -> tuple[Any, ...] | None:
        """Apply the decoded `decision` (raise InvalidDecision to refuse it); the next observation, or
        None when the episode is over."""

    def result(self) -> Any:
        """The episode's output (the instance's `InstanceRun.output`), once `step` returned None."""


@dataclass(frozen=True)
class StepLimits:
    """Bounds of one interactive episode, on top of the job's `Limits`."""

    step_wall_s: float = 1.0        # parent's clock from sending an observation to receiving the decision
    max_steps: int = 100_000        # decisions in one episode
    reply_bytes: int = 1 << 16      # encoded size of one decision

    def __post_init__(self) -> None:
        if not 0 < self.step_wall_s < float("inf"):
            raise ValueError(f"StepLimits.step_wall_s must be a positive, finite number of seconds, not "
                             f"{self.step_wall_s}")
        if self.max_steps < 1 or self.reply_bytes < 64:
            raise ValueError("StepLimits.max_steps must be ≥ 1 and reply_bytes ≥ 64")


@dataclass(frozen=True)
class Interactive:
    """Makes a sandbox job interactive: `open(i)` is a fresh session for instance i of the job."""

    open: Callable[[int], Session]
    limits: StepLimits = field(default_factory=StepLimits)


class Episodes:
    """The parent's bookkeeping of one stage's episodes: the open session, its instance and step count."""

    def __init__(self, interactive: Interactive) -> None:
        self.interactive = interactive
        self.limits = interactive.limits
        self.session: Session | None = None
        self.index = -1
        self.steps = 0

    def begin(self, i: int) -> tuple[Any, ...]:
        """Open instance i's session; its first observation."""
        self.session, self.index, self.steps = self.interactive.open(i), i, 0
        return _observation(self.session.begin(), i, 0)

    def answer(self, event: dict[str, Any]) -> tuple[str, Any]:
        """The parent's answer to a `step` event: ("observation", args), ("over", output) or
        ("invalid", reason)."""
        i = event.get("i")
        if self.session is None or i != self.index or isinstance(i, bool):
            return "invalid", "protocol error: a decision for an episode that is not open"
        self.steps += 1
        if self.steps > self.limits.max_steps:
            return "invalid", f"the episode ran past its limit of {self.limits.max_steps} steps"
        try:
            nxt = self.session.step(event.get("output"))
        except InvalidDecision as exc:
            return "invalid", f"step {self.steps - 1}: {str(exc)[:1000]}"
        except Exception as exc:  # the trusted simulator failed on this decision: the decision's fault
            return "invalid", (f"step {self.steps - 1}: the simulator could not apply the decision "
                               f"({type(exc).__name__}: {str(exc)[:300]})")
        if nxt is None:
            session, self.session = self.session, None
            return "over", session.result()
        return "observation", _observation(nxt, self.index, self.steps)


def _observation(args: Any, i: int, step: int) -> tuple[Any, ...]:
    if not isinstance(args, tuple):
        raise TypeError(f"a session's observation must be a tuple of arguments, got {type(args).__name__} "
                        f"(instance {i}, step {step})")
    return args


# --- the round trip of a step, without handing the run's other threads the GIL ---------------------
# A step is one message each way. Each blocking socket call releases the GIL, and getting it back waits
# up to the switch interval (5 ms) while another thread of the run (a worker, the loop) runs Python:
# three such calls per step cost 100 steps/s where a lone thread does thousands. So the parent sends an
# observation, and first looks for the decision, with non-blocking libc calls made through ctypes.PyDLL,
# which keep the GIL; only a decision not there yet is waited for with select, which releases it.
import ctypes  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

#: how long the parent polls for a decision before it sleeps in select (0: one look). Polling longer
#: lost with two workers on two cores (bench/sessions.py: 650-775 steps/s at 0.2 ms, 1480-1790 at 0)
SPIN_S = 0.0
_MSG_DONTWAIT = int(socket.MSG_DONTWAIT)
_MSG_TRUNC = int(socket.MSG_TRUNC)
_recv: Any = None
_send: Any = None
try:
    _libc = ctypes.PyDLL(None, use_errno=True)
    _recv, _send = _libc.recv, _libc.send
    for _fn in (_recv, _send):
        _fn.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        _fn.restype = ctypes.c_ssize_t
except (OSError, AttributeError):  # no C library to call: the plain socket calls do
    _recv = _send = None


class Poller:
    """Sends and polls one socket's messages while holding the GIL (see above)."""

    def __init__(self, sock: socket.socket, size: int) -> None:
        self.fd, self.size = sock.fileno(), size
        self.buf = ctypes.create_string_buffer(size) if _recv is not None else None

    def send(self, data: bytes) -> bool:
        """Send one message now; False when it could not go without waiting (use the socket then)."""
        return _send is not None and _send(self.fd, data, len(data), _MSG_DONTWAIT) == len(data)

    def poll(self, seconds: float) -> tuple[bytes, int] | None:
        """The next message and its flags (MSG_TRUNC when it was longer than `size`), polling for up to
        `seconds`; None when none came (b"" at the end of the stream)."""
        if self.buf is None:
            return None
        end = time.perf_counter() + seconds
        while True:
            n = _recv(self.fd, self.buf, self.size, _MSG_DONTWAIT | _MSG_TRUNC)
            if n >= 0:
                return self.buf.raw[:min(n, self.size)], (_MSG_TRUNC if n > self.size else 0)
            if time.perf_counter() >= end:
                return None
