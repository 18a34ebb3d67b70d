"""Schema-valid health summaries (docs/schemas/health-check.v1.json) for tests.

    summary("web1", checks=[check("unit:caddy", "fail"), check("disk:/", "warn", observed=85)])

Counts, overall status and mandatory failures are derived from the checks the way health.check
derives them, so a summary built here is consistent as well as valid.
"""

STATUSES = ("pass", "warn", "fail", "skip")


def check(name, status="pass", mandatory=True, observed=None, expected=None, message=None,
          duration_ms=1.0):
    """One check result; the kind is the part of *name* before the colon."""
    return {
        "name": name,
        "kind": name.split(":", 1)[0],
        "mandatory": mandatory,
        "status": status,
        "observed": observed,
        "expected": expected,
        "message": f"{name} {status}" if message is None else message,
        "duration_ms": duration_ms,
    }


def summary(host="web1", run_id="20260101T000000Z", checks=None, fail_on_mandatory=True):
    """A whole summary for *host*; by default two passing mandatory checks."""
    checks = [check("unit:caddy.service"), check("disk:/", observed=12.5, expected={"warn": 80})] \
        if checks is None else checks
    counts = {status: sum(1 for c in checks if c["status"] == status) for status in STATUSES}
    counts["total"] = len(checks)
    mandatory_failures = [c["name"] for c in checks if c["mandatory"] and c["status"] == "fail"]
    if mandatory_failures:
        overall = "fail"
    elif counts["warn"] or counts["fail"]:
        overall = "warn"
    else:
        overall = "pass"
    return {
        "schema": "deploy-system-unified/health-check/v1",
        "schema_version": 1,
        "run_id": run_id,
        "host": host,
        "started": "2026-01-01T00:00:00.000+00:00",
        "finished": "2026-01-01T00:00:01.250+00:00",
        "duration_ms": 1250.0,
        "overall_status": overall,
        "overall_ok": not mandatory_failures,
        "fail_on_mandatory": fail_on_mandatory,
        "counts": counts,
        "mandatory_failures": mandatory_failures,
        "checks": checks,
    }
