import jsonschema

from dsu import idempotence as idem
from dsu.runs import StateProblem, StateSummary


def _problem(comment, function="file.managed"):
    return StateProblem("id", "core.x", None, True, comment, function)


def test_roles_come_from_the_core_roles_list_in_order():
    roles = idem.core_roles()
    assert len(roles) == 12 and roles[0] == "repositories" and "time" in roles


def test_clusters():
    assert idem.classify(_problem("'foo' is an invalid keyword argument for 'file.managed'"),
                         "apply") == "unsupported_argument"
    assert idem.classify(_problem("Command would have been executed", "cmd.run"),
                         "test") == "unguarded_command"
    assert idem.classify(_problem("Unable to locate package foo"), "apply") == "environment_or_package"
    assert idem.classify(_problem("The file would be updated"), "test") == "role_specific"


def test_verdicts():
    ok, changed, broken = StateSummary(ok=3), StateSummary(changed=1), StateSummary(failed=1)
    assert idem.verdict([changed, ok, ok]) == "idempotent"
    assert idem.verdict([changed, ok, changed]) == "not_idempotent"
    assert idem.verdict([changed, broken, ok]) == "failed"
    errors = StateSummary(errors=["Rendering SLS failed"])
    assert idem.verdict([errors, ok, ok]) == "failed"


def _summary(run_id, verdicts, duration):
    results = [idem.RoleResult(role, "h", verdict) for role, verdict in verdicts.items()]
    from datetime import UTC, datetime

    return idem.summarize(results, run_id, "bookworm", datetime.now(UTC), duration, None)


def test_delta_and_markdown_validate(schema):
    before = _summary("20260101T000000Z", {"a": "not_idempotent", "b": "idempotent", "c": "failed"}, 50)
    after = _summary("20260102T000000Z", {"a": "idempotent", "b": "failed", "d": "idempotent"}, 40)
    after["baseline"] = idem.delta(after, before)
    jsonschema.validate(after, schema("idempotence-summary.v1.json"))
    assert after["baseline"]["fixed"] == ["a"] and after["baseline"]["regressed"] == ["b"]
    assert after["baseline"]["only_in_baseline"] == ["c"] and after["baseline"]["time_change_s"] == -10
    text = idem.markdown(after)
    assert text.startswith("# Idempotence: 2/3 idempotent") and "- fixed: a" in text


def test_a_host_that_never_boots_is_a_failed_role_not_a_lost_report(monkeypatch, schema):
    from datetime import UTC, datetime

    from dsu.errors import DsuError
    from dsu.progress import Progress

    def no_boot(name, *args, **kwargs):
        raise DsuError(f"lab host {name} did not answer SSH within 90s", "see its console")

    monkeypatch.setattr(idem.lab, "up", no_boot)
    result = idem.run_role("time", 3, "bookworm", None, Progress(), None)
    assert result.verdict == "failed" and result.runs == []
    (problem,) = result.problems
    assert (problem.run, problem.id) == ("boot", "(lab or transport)")
    assert "did not answer SSH" in problem.evidence and "fix: see its console" in problem.evidence
    summary = idem.summarize([result], "20260101T000000Z", "bookworm", datetime.now(UTC), 1, None)
    jsonschema.validate(summary, schema("idempotence-summary.v1.json"))
    assert "(lab or transport)" in idem.markdown(summary)
