"""Render a role as if on another kind of host: a stand-in hostfacts module with chosen facts,
next to the repo's other modules. Only rendering (state.show_sls); nothing is applied."""

import shutil

from tests.conftest import REPO

HOSTFACTS = '''
__virtualname__ = "hostfacts"
FACTS = {facts!r}


def summary():
    return dict(FACTS)
'''


GRAINS = '''
def stub():
    return {grains!r}
'''


def render(caller, minion_opts, tmp_path, sls, pillar="{}", facts=None, grains=None):
    """``state.show_sls`` of *sls* with *pillar*; with *facts*, hostfacts.summary() returns them;
    *grains* override the machine's own (a custom grains module, loaded after the core ones)."""
    if grains is not None:
        grains_dir = tmp_path / "stub-grains"
        grains_dir.mkdir(exist_ok=True)
        (grains_dir / "stubgrains.py").write_text(GRAINS.format(grains=grains))
        minion_opts["grains_dirs"] = [str(grains_dir)]
    if facts is not None:
        mods = tmp_path / "stub-modules"
        mods.mkdir(exist_ok=True)
        for module in (REPO / "_modules").glob("*.py"):
            if module.name != "hostfacts.py":
                shutil.copy(module, mods / module.name)
        full = {"virtual": "physical", "virtual_subtype": "", "container": "", "init": "systemd",
                "boot_mode": "uefi", **facts}
        (mods / "hostfacts.py").write_text(HOSTFACTS.format(facts=full))
        minion_opts["module_dirs"] = [str(mods)]
    rendered = caller(pillar + "\n").cmd("state.show_sls", sls)
    assert isinstance(rendered, dict), rendered
    return rendered
