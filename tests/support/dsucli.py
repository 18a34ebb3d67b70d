"""`python -m dsu …` as an operator runs it, for tests: a timeout ends it the way an operator's
Ctrl-C would (SIGTERM, which dsu turns into its cleanup: the salt-ssh it started is killed with
its process group), never with a bare SIGKILL that would leave salt-ssh running on its own."""

import subprocess
import sys

from tests.conftest import REPO

GRACE = 30  # seconds dsu gets to clean up after SIGTERM


def run_dsu(*args, env=None, timeout=600):
    """Run dsu with *args* from the checkout; the finished process (stdout, stderr as text)."""
    with subprocess.Popen([sys.executable, "-m", "dsu", *args], cwd=REPO, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise AssertionError(f"dsu {' '.join(args)} did not finish within {timeout} s "
                                 f"(stopped with SIGTERM):\n{out}\n{err}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
