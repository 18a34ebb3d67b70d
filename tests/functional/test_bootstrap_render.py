"""core.bootstrap renders from its defaults, pillar core:bootstrap overrides them, and bad pillar
refuses the render."""

import pytest


def test_defaults_render_one_package_transaction(render_sls):
    states = render_sls("core.bootstrap")
    pkg = states["core-bootstrap-base-packages-installed"]["pkg"]
    pkgs = next(arg["pkgs"] for arg in pkg if isinstance(arg, dict) and "pkgs" in arg)
    assert {"curl", "git", "sudo", "python3-apt", "ca-certificates"} <= set(pkgs)
    assert "core-bootstrap-directory-/var/lib/deploy-system" in states


def test_pillar_overrides_defaults(render_sls):
    states = render_sls("core.bootstrap", "core:\n  bootstrap:\n    packages: [tmux]\n"
                        "    directories: {/srv/app: '0700'}\n")
    pkg = states["core-bootstrap-base-packages-installed"]["pkg"]
    assert {"pkgs": ["tmux"]} in pkg
    # Dictionaries merge: the default directories stay, the new one is added.
    assert "core-bootstrap-directory-/srv/app" in states
    assert "core-bootstrap-directory-/etc/deploy-system" in states


def test_facts_file_outside_the_managed_directories_is_created_with_its_directory(render_sls):
    states = render_sls("core.bootstrap", "core: {bootstrap: {facts_file: /srv/facts/host.json}}\n")
    facts = states["core-bootstrap-host-facts-recorded"]["file"]
    assert {"makedirs": True} in facts and not any("require" in a for a in facts if isinstance(a, dict))
    defaults = render_sls("core.bootstrap")["core-bootstrap-host-facts-recorded"]["file"]
    assert {"require": [{"file": "core-bootstrap-directory-/etc/deploy-system"}]} in defaults


@pytest.mark.parametrize(("bootstrap", "problems"), [
    # unquoted, 0700 is an integer: the directory would get mode 700 decimal
    ("{directories: {/srv/app: 0700}}",
     ["core:bootstrap:directories:/srv/app: is 700, must be a quoted octal file mode"]),
    ("{packages: tmux, facts_file: facts.json}",
     ["core:bootstrap:packages: is 'tmux', must be a list",
      "core:bootstrap:facts_file: is 'facts.json', must be an absolute path"]),
    ("{directories: {'/srv/a b': '0700'}, packges: [tmux]}",
     ["core:bootstrap:directories:/srv/a b: the key is '/srv/a b', must be an absolute path",
      "core:bootstrap:packges: is not a known key here"]),
])
def test_bad_pillar_refuses_the_render_naming_the_key(refused_render, bootstrap, problems):
    message = refused_render("core.bootstrap", f"core: {{bootstrap: {bootstrap}}}\n",
                             contract="core/bootstrap")
    assert f"{len(problems)} parameter(s) break" in message
    for problem in problems:
        assert problem in message, (problem, message)
