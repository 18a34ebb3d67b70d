"""The deploy's phase logic with the hosts faked: a host stops at the phase it fails, the others
go on; a problem found on this side stops every host before any change; a host that failed
preflight is never sent a state run."""

import pytest

from dsu.deploy import fleet, hostlock
from dsu.errors import Problem
from dsu.preflight import Findings
from dsu.progress import Progress
from dsu.runs import StateRun, summarize_states
from dsu.saltssh import SaltRun
from dsu.targets import Target


class Held:
    def release(self):
        pass


@pytest.fixture
def hosts(tmp_path, monkeypatch):
    calls = {"states": [], "preflight": []}
    roster = tmp_path / "roster"
    roster.write_text("{}\n")

    def take(target, run_id, who, takeover=False):
        if target.name == "down":
            raise RuntimeError("ssh: connect to host: No route to host")
        return Held()

    def states(names, *args, **kwargs):
        calls["states"].append((list(names), args))
        ok = {"a_|-s_|-s_|-run": {"result": True, "changes": {}, "comment": "", "__id__": "s"}}
        gate = {"health_|-g_|-g_|-passing": {"result": True, "changes": {}, "comment": "",
                                             "health": {"overall_ok": True, "overall_status": "pass",
                                                        "mandatory_failures": []}}}
        answer = gate if "ops.health_check" in args else ok
        return StateRun({n: summarize_states(answer) for n in names}, 0.1,
                        SaltRun(0, {n: answer for n in names}, ""))

    monkeypatch.setattr(hostlock, "take", take)
    monkeypatch.setattr(fleet, "apply_states", states)
    monkeypatch.setattr(fleet.smoke, "smoke", lambda targets, **kw: {
        t.name: type("R", (), {"ok": True, "failed": []})() for t in targets})
    return calls, roster, tmp_path


def _deploy(roster, out, names):
    targets = [Target(name, f"10.0.0.{i}") for i, name in enumerate(names, 1)]
    return fleet.Deploy(targets, fleet.Options(roster=roster, out=out), Progress()).run()


def test_a_host_stops_where_it_fails_and_the_others_go_on(hosts, monkeypatch):
    calls, roster, out = hosts
    found = Findings()
    found.by_host = {"web1": [], "web2": [Problem("web2", "deploy:profile: in two profiles")]}
    monkeypatch.setattr(fleet.preflight, "check", lambda names, *a, **k: (
        calls["preflight"].append(list(names)) or found))
    runs = {r.name: r for r in _deploy(roster, out, ["web1", "web2", "down"])}
    assert runs["web1"].going
    assert (runs["web2"].failed, runs["down"].failed) == ("preflight", "lock")
    assert calls["preflight"] == [["web1", "web2"]]  # an unreachable host is not asked
    assert all(names == ["web1"] for names, _ in calls["states"])  # web2 is never changed


def test_a_problem_on_this_side_stops_every_host_before_any_change(hosts, monkeypatch):
    calls, roster, out = hosts
    found = Findings([Problem("pillar/secrets/prod.sops.yaml", "does not decrypt")])
    found.local = 1
    monkeypatch.setattr(fleet.preflight, "check", lambda *a, **k: found)
    runs = _deploy(roster, out, ["web1", "web2"])
    assert [r.failed for r in runs] == ["preflight", "preflight"]
    assert all("common to every host" in r.reason and "does not decrypt" in r.reason for r in runs)
    assert calls["states"] == []
