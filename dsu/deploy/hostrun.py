"""One host's way through a deploy: the phases it went through, each with its outcome and
duration, and the phase it stopped at."""

import time
from dataclasses import dataclass, field
from typing import Any

from dsu.runs import StateSummary
from dsu.targets import Target

# In order; a host that fails one stops there (skipped phases are not recorded).
PHASES = ("lock", "bootstrap", "preflight", "highstate", "recheck", "health", "smoke")


@dataclass
class HostRun:
    target: Target
    phases: list[dict[str, Any]] = field(default_factory=list)
    failed: str | None = None  # the phase it stopped at
    reason: str = ""

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def going(self) -> bool:
        return self.failed is None

    def record(self, phase: str, ok: bool, started: float, reason: str = "",
               **detail: Any) -> bool:
        """Record *phase* (begun at monotonic *started*); a failure stops the host there."""
        self.phases.append({"phase": phase, "ok": ok,
                            "duration_s": round(time.monotonic() - started, 2),
                            **({"reason": reason} if reason else {}), **detail})
        if not ok and self.going:
            self.failed, self.reason = phase, reason
        return ok

    def outcome(self, phase: str) -> str:
        """"ok", "FAILED" or "-" (not reached) for the table."""
        for entry in self.phases:
            if entry["phase"] == phase:
                return "ok" if entry["ok"] else "FAILED"
        return "-"


def state_detail(summary: StateSummary) -> dict[str, Any]:
    """A state run in the evidence: counts, the changed and failed states, errors."""
    return {
        "counts": {"ok": summary.ok, "changed": summary.changed, "failed": summary.failed},
        "changed_states": [{"id": p.id, "sls": p.sls, "function": p.function}
                           for p in summary.changed_states],
        "failed_states": [{"id": p.id, "sls": p.sls, "function": p.function,
                           "comment": p.comment} for p in summary.failed_states],
        "errors": [e[:1000] for e in summary.errors],
    }


def state_reason(summary: StateSummary) -> str:
    said = [*summary.errors[:2], *(f"{p.id}: {p.comment}" for p in summary.failed_states[:3])]
    return "; ".join(said)[:1000] or "failed without a message"
