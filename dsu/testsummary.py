"""Print a test run's counts from a JUnit XML report as one plain closing line."""

import sys
import xml.etree.ElementTree as ET


def counts(path: str) -> dict[str, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, 0))
    return total


def main(argv: list[str]) -> int:
    total = counts(argv[1])
    failed = total["failures"] + total["errors"]
    passed = total["tests"] - failed - total["skipped"]
    print(f"tests: {passed} passed, {failed} failed, {total['skipped']} skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
