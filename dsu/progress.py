"""Progress lines for long-running commands: what is happening, on which host, since when."""

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.start = time.monotonic()
        self.stream = stream or sys.stderr

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def step(self, message: str, host: str | None = None) -> None:
        where = f"{host}: " if host else ""
        print(f"[{self.elapsed():7.1f}s] {where}{message}", file=self.stream, flush=True)
