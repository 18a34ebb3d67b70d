"""The tree stays ruff- and salt-lint-clean."""

import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _tool(name):
    return str(BIN / name) if (BIN / name).exists() else shutil.which(name)


def test_ruff_clean(repo):
    proc = subprocess.run([_tool("ruff"), "check", "."], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_salt_lint_clean(repo):
    sls = sorted(str(p.relative_to(repo)) for p in (repo / "salt").rglob("*.sls"))
    sls += sorted(str(p.relative_to(repo)) for d in ("pillar", "reactor")
                  for p in (repo / d).rglob("*.sls"))
    proc = subprocess.run([_tool("salt-lint"), *sls], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
