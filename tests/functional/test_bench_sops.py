"""dsu bench sops: one file of 1,000 values and fifty of 20, decrypted by ours and by the real
sops; the report validates against its schema. The timings are reported, not asserted."""

import jsonschema

from dsu.bench.sops import sops_bench, sops_markdown


def test_report_of_both_layouts_validates(tmp_path, schema):
    report = sops_bench(tmp_path, repeats=1)
    jsonschema.validate(report, schema("bench-sops.v1.json"))
    assert {n: r["files"] for n, r in report["layouts"].items()} == {"1x1000": 1, "50x20": 50}
    assert all(r["sops_binary_ms"] is not None for r in report["layouts"].values())
    print(sops_markdown(report))
