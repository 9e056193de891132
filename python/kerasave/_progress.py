"""A tiny dependency-free progress bar on stderr, shown only on a terminal and only for long work."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Optional, TextIO, TypeVar

T = TypeVar("T")


def human_bytes(n: float) -> str:
    """Formats a byte count: ``1536 -> "1.5 KiB"``.

    Args:
        n: Number of bytes.

    Returns:
        The short human form.
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - loop always returns


class Progress:
    """A one-line progress bar that redraws itself in place.

    Nothing is drawn unless the stream is a TTY and the work has already taken ``delay``
    seconds, so quick commands and piped output stay clean.

    Args:
        total: Total units of work, or None for an open-ended spinner.
        label: Text before the bar.
        unit: ``"B"`` to show byte counts in human form, else plain counts.
        stream: Where to draw (stderr by default).
        delay: Seconds before the bar first appears.
        enabled: Force drawing on (True) or off (False); None means "if the stream is a TTY".
    """

    _FRAMES = "|/-\\"

    def __init__(
        self,
        total: Optional[int],
        label: str = "",
        *,
        unit: str = "",
        stream: Optional[TextIO] = None,
        delay: float = 0.5,
        enabled: Optional[bool] = None,
    ) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.done = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self._frame = 0
        self._lock = threading.Lock()

    def _fmt(self, n: float) -> str:
        return human_bytes(n) if self.unit == "B" else f"{int(n)}"

    def update(self, n: int = 1) -> None:
        """Records ``n`` more units of work and redraws (at most ten times a second)."""
        with self._lock:
            self.done += n
            self._maybe_draw()

    def _maybe_draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._start < self.delay and not (force and self._drawn):
            return
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        elapsed = now - self._start
        if self.total:
            frac = min(1.0, self.done / self.total)
            width = 30
            filled = int(frac * width)
            bar = "#" * filled + "." * (width - filled)
            text = (
                f"{self.label} [{bar}] {frac * 100:5.1f}% "
                f"{self._fmt(self.done)}/{self._fmt(self.total)} {elapsed:.1f}s"
            )
        else:
            self._frame = (self._frame + 1) % len(self._FRAMES)
            text = f"{self.label} {self._FRAMES[self._frame]} {elapsed:.1f}s"
        self.stream.write("\r" + text[:120].ljust(80))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erases the bar (if it was drawn)."""
        with self._lock:
            if self._drawn:
                self.stream.write("\r" + " " * 80 + "\r")
                self.stream.flush()
                self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_with_spinner(fn: Callable[[], T], label: str, **kwargs: Any) -> T:
    """Runs ``fn`` (which should release the GIL) in a thread while a spinner shows it is alive.

    Args:
        fn: The work.
        label: Spinner text.
        **kwargs: Passed to :class:`Progress`.

    Returns:
        What ``fn`` returned; its exception is re-raised here.
    """
    progress = Progress(None, label, **kwargs)
    if not progress.enabled:
        return fn()
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # re-raised in the caller's thread
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    with progress:
        while thread.is_alive():
            thread.join(0.1)
            progress.update(0)
    if "error" in result:
        raise result["error"]
    return result["value"]
