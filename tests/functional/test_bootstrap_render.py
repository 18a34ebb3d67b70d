"""core.bootstrap renders from its defaults, and pillar core:bootstrap overrides them."""


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
