def test_hostfacts_is_loaded_from_the_repo(loaders):
    assert "hostfacts.summary" in loaders


def test_summary_is_consistent_on_this_machine(loaders):
    facts = loaders["hostfacts.summary"]()
    assert set(facts) == {"virtual", "virtual_subtype", "container", "init", "boot_mode"}
    assert facts["boot_mode"] in {"uefi", "bios", "none"}
    # A container boots no firmware; anything else does.
    assert (facts["boot_mode"] == "none") == bool(facts["container"])
    if facts["container"]:
        assert facts["virtual"] == "container"
