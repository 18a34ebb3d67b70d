from dsu.testsummary import counts, main


def test_counts_and_closing_line(tmp_path, capsys):
    report = tmp_path / "r.xml"
    report.write_text('<testsuites><testsuite tests="7" failures="1" errors="1" skipped="2"/>'
                      "</testsuites>")
    assert counts(str(report)) == {"tests": 7, "failures": 1, "errors": 1, "skipped": 2}
    main(["x", str(report)])
    assert capsys.readouterr().out == "tests: 3 passed, 2 failed, 2 skipped\n"
