"""First contact with root's password: the operator's public key is appended to root's
authorized_keys over one password login, and every later step uses the key.

The password goes to sshpass through a pipe (``sshpass -d FD``): never an argument, an
environment variable or a file, so it shows in no process listing, log or temporary file. ssh is
told to try the password once, so a wrong one fails at once instead of being asked again.
"""

import os
import shlex
import subprocess

from dsu.errors import DsuError
from dsu.password import Password
from dsu.targets import Target

RootPassword = Password
TIMEOUT_S = 60


def _append_key_command(key: str) -> str:
    # Idempotent: the key is added once; the directory and file keep sshd's required modes.
    quoted = shlex.quote(key)
    return ("umask 077; mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && "
            f"(grep -qxF {quoted} ~/.ssh/authorized_keys || echo {quoted} >> ~/.ssh/authorized_keys)")


def install_key_with_password(target: Target, key: str, password: Password) -> None:
    read_end, write_end = os.pipe()
    argv = ["sshpass", "-d", str(read_end),
            *target.ssh_argv(_append_key_command(key), batch=False)]
    # Password only; BatchMode off so ssh asks (sshpass answers), one prompt.
    argv[argv.index("ssh") + 1:argv.index("ssh") + 1] = [
        "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
        "-o", "NumberOfPasswordPrompts=1"]
    try:
        process = subprocess.Popen(argv, pass_fds=(read_end,), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        os.close(read_end)
        os.close(write_end)
        raise DsuError("sshpass is not installed", "run ./bootstrap.sh setup") from None
    os.close(read_end)
    try:
        with os.fdopen(write_end, "w") as pipe:
            pipe.write(password.reveal() + "\n")
    except BrokenPipeError:
        pass  # sshpass ended without reading it: its exit status says why
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise DsuError(f"{target.name}: the password login did not finish within {TIMEOUT_S}s") \
            from None
    if process.returncode:
        # sshpass: 5 = wrong password; its other messages never hold the password.
        reason = "root's password was refused" if process.returncode == 5 else \
            (stderr.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
        raise DsuError(f"{target.name}: installing the operator's key with root's password "
                       f"failed: {reason}")
