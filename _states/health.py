"""
The post-deploy health gate.

``health.passing`` runs ``health.check`` (pillar ``health_check`` over the module's defaults),
keeps the host-side evidence file ``<evidence_dir>/<host>.json`` and fails when a mandatory check
fails and ``fail_on_mandatory`` is true. Warnings and optional failures are reported in the
comment and never fail it.

The evidence file is rewritten on every real run: it is a record of the run, not configuration,
so writing it is not reported as a change (a converged host stays at zero changes). With
``test=True`` the checks still run (they only read) but nothing is written, and the result says
whether the gate would pass.

The state's return carries the whole summary under the extra key ``health``, so a returner or
job cache on the operator's side (``health_json``) can write the run's artifacts there too.

.. code-block:: yaml

    ops-health-check-gate:
      health.passing:
        - evidence_dir: /srv/health-evidence  # default: health_report.DEFAULT_DIR
"""

__virtualname__ = "health"


def __virtual__():
    if "health.check" not in __salt__:
        return (False, "health: the health execution module is not available")
    return __virtualname__


def _describe(summary):
    counts = summary["counts"]
    head = (f"health {summary['overall_status']} on {summary['host']} (run {summary['run_id']}): "
            f"{counts['total']} checks, {counts['pass']} pass, {counts['warn']} warn, "
            f"{counts['fail']} fail, {counts['skip']} skip")
    lines = [f"  {c['status']:<4} {c['name']}{'' if c['mandatory'] else ' (optional)'}: {c['message']}"
             for c in summary["checks"] if c["status"] in ("fail", "warn")]
    return "\n".join([head, *lines])


def passing(name, run_id=None, checks=None, fail_on_mandatory=None, evidence_dir=None,
            profile=False):
    """
    Run the health checks and fail when a mandatory one fails.

    name
        A label for the gate (shown in the output).
    run_id
        Names the run (default: pillar ``health_check:run_id``, else the UTC start time).
    checks
        A mapping merged over pillar ``health_check`` for this gate only.
    fail_on_mandatory
        Overrides pillar ``health_check:fail_on_mandatory`` (default true). When false, mandatory
        failures are reported but the state succeeds.
    evidence_dir
        Where the host-side copy ``<host>.json`` is kept (created if missing). Default:
        ``DEFAULT_DIR`` of ``_utils/health_report.py``.
    profile
        Also run the checks of the host's deployment profile, under the pillar's (see
        ``health.config``).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    summary = __salt__["health.check"](run_id=run_id, checks=checks, profile=profile)
    gate = summary["fail_on_mandatory"] if fail_on_mandatory is None else bool(fail_on_mandatory)
    summary["fail_on_mandatory"] = gate
    ret["health"] = summary
    failing = summary["mandatory_failures"]
    comment = [_describe(summary)]
    if __opts__["test"]:
        comment.append("test=True: evidence not written")
    else:
        directory = evidence_dir or __utils__["health_report.default_dir"]()
        path = __utils__["health_report.write_host_copy"](directory, summary)
        comment.append(f"evidence: {path}")
    if failing and gate:
        ret["result"] = False
        comment.insert(0, f"mandatory health checks {'would fail' if __opts__['test'] else 'failed'}: "
                          f"{', '.join(failing)}")
    elif failing:
        comment.insert(0, "mandatory health checks failed, but fail_on_mandatory is false: "
                          f"{', '.join(failing)}")
    ret["comment"] = "\n".join(comment)
    return ret
