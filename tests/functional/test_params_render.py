"""core/libparams.jinja merges defaults, the optional os.yaml layer and pillar: a role without an
os.yaml renders from its defaults, one with an os.yaml gets its os_family then osfinger values;
merged values that break the role's contract refuse the render, naming every bad pillar key."""

import json

import pytest

from tests.conftest import REPO

# A throwaway role next to the real tree: it loads its parameters the way every role does and
# shows them as the name of one state.
MAP = ('{%- from "core/libparams.jinja" import load_parameters with context %}\n'
       '{%- set params = {} %}{%- do load_parameters(tpldir, "params", params) %}\n')
INIT = ('{%- from tpldir ~ "/map.jinja" import params with context %}\n'
        "params-shown:\n  test.nop:\n    - name: {{ params | json | yaml_dquote }}\n")
DEFAULTS = "values:\n  source: defaults\n  family: defaults\n  kept: defaults\n"
CONTRACT = ("fields:\n  source: {type: string, format: name}\n  family: {type: string, format: name}\n"
            "  kept: {type: string, format: name}\n")
OS = """\
os_family:
  Debian: {family: os_family, source: os_family}
  RedHat: {kept: other-family}
osfinger:
  Debian-13: {source: osfinger}
  Debian-12: {kept: other-release}
"""
DEBIAN_13 = {"os_family": "Debian", "osfinger": "Debian-13"}


def _params(render_sls, minion_opts, tmp_path, os_yaml, pillar="{}"):
    role = tmp_path / "roots" / "paramtest"
    (role / "parameters").mkdir(parents=True)
    (role / "map.jinja").write_text(MAP)
    (role / "init.sls").write_text(INIT)
    (role / "parameters" / "defaults.yaml").write_text(DEFAULTS)
    (role / "parameters" / "contract.yaml").write_text(CONTRACT)
    if os_yaml is not None:
        (role / "parameters" / "os.yaml").write_text(os_yaml)
    minion_opts["file_roots"] = {"base": [str(REPO / "salt"), str(tmp_path / "roots")]}
    states = render_sls("paramtest", pillar, grains=DEBIAN_13)
    return json.loads(states["params-shown"]["test"][0]["name"])


def test_role_without_os_yaml_renders_from_defaults_and_pillar(render_sls, minion_opts, tmp_path):
    params = _params(render_sls, minion_opts, tmp_path, None, "core: {params: {kept: pillar}}")
    assert params == {"source": "defaults", "family": "defaults", "kept": "pillar"}


@pytest.mark.parametrize("os_yaml", ["", "# nothing per OS\n"])
def test_empty_os_yaml_is_no_layer(render_sls, minion_opts, tmp_path, os_yaml):
    params = _params(render_sls, minion_opts, tmp_path, os_yaml)
    assert params == {"source": "defaults", "family": "defaults", "kept": "defaults"}


def test_os_yaml_applies_os_family_then_osfinger_under_pillar(render_sls, minion_opts, tmp_path):
    assert _params(render_sls, minion_opts, tmp_path, OS) == \
        {"source": "osfinger", "family": "os_family", "kept": "defaults"}
    pillar = "core: {params: {source: pillar}}"
    assert _params(render_sls, minion_opts, tmp_path / "again", OS, pillar)["source"] == "pillar"


@pytest.mark.parametrize(("pillar", "problems"), [
    ("core: {params: {kept: 'a b', extra: x}}",
     ["core:params:kept: is 'a b', must be a name", "core:params:extra: is not a known key here"]),
    # a pillar layer that is no mapping is not merged: it is the problem
    ("core: {params: [kept]}", ["core:params: is a list, must be a mapping"]),
])
def test_values_breaking_the_contract_refuse_the_render(render_sls, refused_render, minion_opts, tmp_path,
                                                        pillar, problems):
    _params(render_sls, minion_opts, tmp_path, None)
    message = refused_render("paramtest", pillar, grains=DEBIAN_13, contract="paramtest")
    assert f"paramtest: {len(problems)} parameter(s) break" in message, message
    for problem in problems:
        assert problem in message, (problem, message)
