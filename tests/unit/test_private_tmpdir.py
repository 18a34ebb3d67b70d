"""A dsu command's own temp directory (dsu/privatetmp.py): TMPDIR of the process and its
children, 0700, removed with everything in it however the block ends, even after a child that
wrote into it was SIGKILLed (as salt-ssh leaves /tmp/__salt.tmp.* holding a state bundle); and a
directory left by a dsu process that was killed itself goes when the next one begins."""

import os
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from dsu import privatetmp
from tests.conftest import REPO

CHILD_WRITES = ("import os, sys, tempfile, time\n"
                "fd, path = tempfile.mkstemp(prefix='__salt.tmp.')\n"
                "os.write(fd, b'pillar'); print(path, flush=True); time.sleep(60)\n")


def _children_tmp():
    return subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("before", [None, "/somewhere/else"])
def test_tmpdir_of_the_block_for_this_process_and_its_children(tmp_path, monkeypatch, before):
    if before is None:
        monkeypatch.delenv("TMPDIR", raising=False)
    else:
        monkeypatch.setenv("TMPDIR", before)
    with privatetmp.private_tmpdir(tmp_path) as private:
        assert private.parent == tmp_path and private.name.startswith(f"run-{os.getpid()}-")
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        assert os.environ["TMPDIR"] == tempfile.gettempdir() == _children_tmp() == str(private)
        (private / "sub").mkdir()
        (private / "sub" / "pillar.json").write_text("{}")
    assert not private.exists()
    assert os.environ.get("TMPDIR") == before
    monkeypatch.delenv("TMPDIR", raising=False)
    tempfile.tempdir = None
    assert tempfile.gettempdir() != str(private)


def test_removed_when_the_block_fails(tmp_path):
    with pytest.raises(KeyError), privatetmp.private_tmpdir(tmp_path) as private:
        (private / "__salt.tmp.x").write_text("pillar")
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_removed_after_a_child_writing_into_it_was_sigkilled(tmp_path):
    with privatetmp.private_tmpdir(tmp_path) as private:
        child = subprocess.Popen([sys.executable, "-c", CHILD_WRITES], stdout=subprocess.PIPE,
                                 text=True)
        written = child.stdout.readline().strip()
        assert written.startswith(f"{private}/__salt.tmp.")
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert list(tmp_path.iterdir()) == []


def test_the_directory_of_a_killed_dsu_process_goes_when_the_next_one_begins(tmp_path):
    killed = subprocess.run(
        [sys.executable, "-c", "import os, pathlib, signal, sys\nfrom dsu import privatetmp\n"
         f"with privatetmp.private_tmpdir(pathlib.Path({str(tmp_path)!r})) as path:\n"
         "    (path / '__salt.tmp.x').write_text('pillar')\n"
         "    print(path, flush=True)\n    os.kill(os.getpid(), signal.SIGKILL)\n"],
        cwd=REPO, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    left = tmp_path / killed.stdout.strip()
    assert (left / "__salt.tmp.x").exists()
    other = tmp_path / "not-dsus"
    other.mkdir()
    with privatetmp.private_tmpdir(tmp_path) as mine, privatetmp.private_tmpdir(tmp_path) as nested:
        # a live process's directory stays, its own nested one included; others' names are not ours
        assert not left.exists() and mine.exists() and nested.exists() and other.exists()
    assert sorted(tmp_path.iterdir()) == [other]
