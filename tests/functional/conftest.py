"""In-process Salt loaders over this repo's modules and states: no daemons, nothing applied.

These run on the test machine itself, so they only call read-only functions and render states.
"""

import pytest
import salt.config
import salt.loader


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
