"""The sops renderer (_renderers/sops.py) finds the utils module sopsfile wherever Salt renders:
with its own options, or, as salt-ssh renders state files on the operator's side with the target's
options, with the operator's (__master_opts__); when it finds none, the error says so."""

import pytest
import salt.config
from salt.exceptions import SaltRenderError

from tests.conftest import REPO
from tests.support.saltmods import load


def _opts(tmp_path, **extra):
    opts = salt.config.minion_config(None)
    opts.update({"cachedir": str(tmp_path / "cache"), "extension_modules": str(tmp_path / "extmods"),
                 "utils_dirs": [], **extra})
    return opts


def _renderer(opts):
    return load("_renderers", "sops", opts=opts, context={})


def test_other_data_passes_through_with_the_operators_utils(tmp_path):
    operator = _opts(tmp_path, utils_dirs=[str(REPO / "_utils")])
    renderer = _renderer(_opts(tmp_path, __master_opts__=operator))  # a salt-ssh target's options
    for data in ({"pkg": {"installed": []}}, {"sops": "a state id"}, "text", None):
        assert renderer.render(data, sls="core.time") == data


def test_without_the_utils_module_the_error_says_where_it_is_looked_for(tmp_path):
    with pytest.raises(SaltRenderError, match=r"sopsfile.*utils_dirs, saltutil.sync_utils"):
        _renderer(_opts(tmp_path)).render({"a": 1})


def test_a_sops_document_it_cannot_open_names_the_sls(tmp_path, monkeypatch):
    monkeypatch.setenv("SOPS_AGE_KEY", "")
    renderer = _renderer(_opts(tmp_path, utils_dirs=[str(REPO / "_utils")],
                               sops_gnupghome=str(tmp_path / "gnupg")))
    document = {"a": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
                "sops": {"mac": "m", "lastmodified": "2024-01-01T00:00:00Z",
                         "age": [{"recipient": "age1x", "enc": "x"}]}}
    with pytest.raises(SaltRenderError, match=r"^SOPS: SLS secrets\.db \(saltenv base\): no key here"):
        renderer.render(document, sls="secrets.db")
