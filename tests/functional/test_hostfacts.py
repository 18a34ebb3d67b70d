"""The dsu_host and dsu_entropy grains (_grains/dsu_host.py) as the loader gives them on this
machine, the hostfacts/entropy modules answering from the same rules, and aptsources.current."""


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


def test_current_sources_in_one_call(loaders):
    current = loaders["aptsources.current"]()
    assert current["archive_uri"] == loaders["aptsources.archive_uri"]()
    assert current["security_uri"] == loaders["aptsources.security_from_archive"](
        current["archive_uri"])
    assert loaders["aptsources.current"](mirror="http://m.example/debian") == {
        "archive_uri": "http://m.example/debian", "security_uri": "http://m.example/debian-security"}
