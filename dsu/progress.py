"""Progress lines for long-running commands: what is happening, on which host, since when."""

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.start = time.monotonic()
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()  # hosts report from threads: one whole line at a time

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def step(self, message: str, host: str | None = None) -> None:
        where = f"{host}: " if host else ""
        line = f"[{self.elapsed():7.1f}s] {where}{message}\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()
