"""deploy-system-unified tooling: lab hosts, deploys, benchmarks and secrets operations."""

__version__ = "0.1.0"
