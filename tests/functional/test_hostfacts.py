"""The dsu_host, dsu_entropy and dsu_apt grains (_grains/dsu_host.py) as the loader gives them on
this machine, and the hostfacts/entropy/aptsources modules answering from the same rules."""


def test_hostfacts_is_loaded_from_the_repo(loaders):
    assert "hostfacts.summary" in loaders


def test_summary_is_the_dsu_host_grain_and_consistent(loaders, minion_opts):
    facts = loaders["hostfacts.summary"]()
    assert facts == minion_opts["grains"]["dsu_host"]
    assert set(facts) == {"virtual", "virtual_subtype", "container", "init", "boot_mode",
                          "cpu_vendor"}
    assert facts["boot_mode"] in {"uefi", "bios", "none"}
    # A container boots no firmware; anything else does.
    assert (facts["boot_mode"] == "none") == bool(facts["container"])
    if facts["container"]:
        assert facts["virtual"] == "container"


def test_entropy_grain_holds_the_modules_answer_for_every_mode(loaders, minion_opts):
    plans = minion_opts["grains"]["dsu_entropy"]
    assert set(plans) == {"auto", "haveged", "rng-tools", "none"}
    for mode, plan in plans.items():
        assert plan == loaders["entropy.choose"](mode)


def test_apt_grain_matches_the_module(loaders, minion_opts):
    apt = minion_opts["grains"]["dsu_apt"]
    assert apt["archive_uri"] == loaders["aptsources.archive_uri"]()
    assert apt["security_uri"] == loaders["aptsources.security_from_archive"](apt["archive_uri"])
    assert apt["lists_dir"] == "/var/lib/apt/lists" and isinstance(apt["has_package_lists"], bool)
