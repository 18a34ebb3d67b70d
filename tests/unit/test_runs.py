from dsu.runs import summarize_states


def _state(result, changes=None, run_num=0, comment=""):
    return {"result": result, "changes": changes or {}, "comment": comment,
            "__id__": f"id{run_num}", "__sls__": "core.x", "__run_num__": run_num}


def test_counts_ok_changed_failed_in_run_order():
    ret = {
        "pkg_|-id2_|-id2_|-installed": _state(False, run_num=2, comment="boom"),
        "file_|-id0_|-/a_|-managed": _state(True, {"diff": "x"}, run_num=0),
        "file_|-id1_|-/b_|-managed": _state(True, run_num=1),
    }
    summary = summarize_states(ret)
    assert (summary.ok, summary.changed, summary.failed) == (1, 1, 1)
    assert [p.id for p in summary.changed_states] == ["id0"]
    assert summary.failed_states[0].comment == "boom"
    assert not summary.success


def test_test_mode_none_counts_as_would_change():
    summary = summarize_states({"k": _state(None)})
    assert summary.changed == 1 and summary.success


def test_render_errors_list_is_a_failure():
    summary = summarize_states(["Rendering SLS 'base:core.x' failed: bad yaml"])
    assert not summary.success
    assert "Rendering SLS" in summary.errors[0]


def test_ssh_failure_dict_is_a_failure():
    summary = summarize_states({"retcode": 255, "stderr": "Permission denied", "stdout": ""})
    assert not summary.success and "Permission denied" in summary.errors[0]
