"""The benchmark wing: measurements on lab hosts, reported (report.json + report.md with a
schema in docs/schemas/) and never asserted: `dsu bench health | sops | highstate | fleet`."""
