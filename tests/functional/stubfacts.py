"""Render a role as if on another kind of host: the repo's grains with the dsu_host facts replaced
by chosen ones, and any other grains overridden. Only rendering (state.show_sls); nothing is
applied."""

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


def render(caller, minion_opts, tmp_path, sls, pillar="{}", facts=None, grains=None):
    """``state.show_sls`` of *sls* with *pillar*; with *facts*, the dsu_host grain is them (over
    defaults for a systemd host on bare metal); *grains* override the machine's own (a custom
    grains module, loaded after the core ones)."""
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
    rendered = caller(pillar + "\n").cmd("state.show_sls", sls)
    assert isinstance(rendered, dict), rendered
    return rendered
