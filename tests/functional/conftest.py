"""In-process Salt loaders over this repo's modules and states: no daemons, nothing applied.

These run on the test machine itself, so they only call read-only functions and render states.
"""

import pytest
import salt.config
import salt.loader

from tests.conftest import REPO

# Appended to a copy of _grains/dsu_host.py: the other grains of the module stay real.
STUB_HOST = '''

def dsu_host(grains):
    return {{"dsu_host": {facts!r}}}
'''

GRAINS = '''
def stub():
    return {grains!r}
'''


@pytest.fixture
def minion_opts(repo, tmp_path):
    pillar = tmp_path / "pillar"
    pillar.mkdir()
    (pillar / "top.sls").write_text("base:\n  '*':\n    - test\n")
    (pillar / "test.sls").write_text("{}\n")
    opts = salt.config.minion_config(None)
    opts.update(
        root_dir=str(tmp_path),
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        sock_dir=str(tmp_path / "sock"),
        log_file=str(tmp_path / "minion.log"),
        file_client="local",
        file_roots={"base": [str(repo / "salt")]},
        pillar_roots={"base": [str(pillar)]},
        module_dirs=[str(repo / "_modules")],
        states_dirs=[str(repo / "_states")],
        returner_dirs=[str(repo / "_returners")],
        utils_dirs=[str(repo / "_utils")],
        grains_dirs=[str(repo / "_grains")],
        id="functional",
    )
    opts["grains"] = salt.loader.grains(opts)
    return opts


@pytest.fixture
def loaders(minion_opts):
    utils = salt.loader.utils(minion_opts)
    return salt.loader.minion_mods(minion_opts, utils=utils)


@pytest.fixture
def caller(minion_opts):
    """A salt-call-like client for rendering states (show_sls), never for applying them."""
    import salt.client

    def make(pillar_sls: str = "{}\n"):
        pillar_dir = minion_opts["pillar_roots"]["base"][0]
        with open(f"{pillar_dir}/test.sls", "w") as handle:
            handle.write(pillar_sls)
        return salt.client.Caller(mopts=dict(minion_opts))

    return make


@pytest.fixture
def show_sls(caller, minion_opts, tmp_path):
    """``state.show_sls`` of an SLS with a pillar, as Salt answers it (states, or a list of render
    errors). With *facts*, the dsu_host grain is them (over defaults for a systemd host on bare
    metal); *grains* override the machine's own (a custom grains module loaded after the core
    ones): the render another kind of host would get. Nothing is applied."""

    def render(sls, pillar="{}", facts=None, grains=None):
        if facts is not None or grains is not None:
            grains_dir = tmp_path / "stub-grains"
            grains_dir.mkdir(exist_ok=True)
            host_module = (REPO / "_grains" / "dsu_host.py").read_text()
            if facts is not None:
                full = {"virtual": "physical", "virtual_subtype": "", "container": "", "init": "systemd",
                        "boot_mode": "uefi", "cpu_vendor": "unknown", **facts}
                host_module += STUB_HOST.format(facts=full)
            (grains_dir / "dsu_host.py").write_text(host_module)
            if grains is not None:
                (grains_dir / "stubgrains.py").write_text(GRAINS.format(grains=grains))
            minion_opts["grains_dirs"] = [str(grains_dir)]
        return caller(pillar + "\n").cmd("state.show_sls", sls)

    return render


@pytest.fixture
def render_sls(show_sls):
    """show_sls that must render: the states by id."""

    def render(sls, pillar="{}", facts=None, grains=None):
        rendered = show_sls(sls, pillar, facts, grains)
        assert isinstance(rendered, dict), rendered
        return rendered

    return render


@pytest.fixture
def refused_render(show_sls):
    """show_sls that must be refused: the render errors as one message. With *contract* (a role
    directory, ``core/time``), the refusal is that role's contract's."""

    def render(sls, pillar="{}", facts=None, grains=None, contract=None):
        rendered = show_sls(sls, pillar, facts, grains)
        assert isinstance(rendered, list), rendered
        message = "\n".join(map(str, rendered))
        if contract is not None:
            assert f"parameter(s) break salt://{contract}/parameters/contract.yaml, nothing applied" \
                in message, message
        return message

    return render
