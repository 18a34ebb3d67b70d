"""
Which entropy daemon a host needs: the rule of ``_utils/entropy_rule.py`` (documented there and in
``docs/roles/entropy.md``), for the command line. The role itself reads the ``dsu_entropy`` grain,
which holds the same rule's answer for every mode.
"""

__virtualname__ = "entropy"


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "entropy: only Linux kernels are covered by the rule")
    return __virtualname__


def choose(mode="auto", kernelrelease=None):
    """
    Return ``{"daemon": "haveged" | "rng-tools" | "", "reason": "..."}`` for *mode* on a kernel
    (default: the running one, grains ``kernelrelease``).

    CLI Example:

    .. code-block:: bash

        salt '*' entropy.choose
        salt '*' entropy.choose mode=auto kernelrelease=5.4.0-150-generic
    """
    release = kernelrelease or __grains__.get("kernelrelease", "")
    return __utils__["entropy_rule.choose"](mode, release)
