"""
Facts about the host that roles use to decide what applies: virtualisation, container, init
system, boot mode and CPU vendor, from the ``dsu_host`` grain (``_grains/dsu_host.py``).

Roles skip what cannot apply (no GRUB in a container, no microcode on a VM, no systemd settings
without systemd) by reading these facts instead of guessing; the bootstrap role records them in
``/etc/deploy-system/host-facts.json`` for people and other tools. The roles read the grain
directly; this module is the same facts for the command line.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "hostfacts"


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "hostfacts: only Linux hosts are supported")
    return __virtualname__


def summary():
    """
    Return all facts as one dictionary.

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.summary
    """
    facts = __grains__.get("dsu_host")
    if not facts:
        raise CommandExecutionError("the dsu_host grain is missing: sync the project's grains "
                                    "(saltutil.sync_grains) or run Salt from the checkout")
    return dict(facts)


def container():
    """
    Return the container technology the host runs in, or an empty string on a VM or bare metal.

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.container
    """
    return summary()["container"]


def init_system():
    """
    Return ``systemd`` when systemd runs as PID 1, else the name of PID 1.

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.init_system
    """
    return summary()["init"]


def boot_mode():
    """
    Return ``uefi``, ``bios`` or ``none`` (a container boots no firmware).

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.boot_mode
    """
    return summary()["boot_mode"]
