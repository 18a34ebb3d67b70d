"""A lab host that looks like a freshly delivered VPS (`dsu lab up --like vps`).

The reference is a Contabo KVM VPS with Debian, as first reached: root on port 22 with the key
(or the password) given at ordering, python3, the public interface at MTU 1450, strict reverse
path filtering, static addressing in /etc/network/interfaces (ifupdown: what VPS providers'
Debian images use, Contabo's and Hetzner's among them) and a static /etc/resolv.conf naming the
provider's resolvers, here the lab's DNS server on the gateway.

These are files in the host's seed (copied into place at boot, before the network and sshd
start), so afterwards they are ordinary files states may manage. The root password never is:
it is set over SSH once the host answers, on chpasswd's stdin (see hosts.up).
"""

from dsu.password import Password, password_file

__all__ = ["Password", "password_file"]  # the lab's --root-password-file

LIKES = ("vps",)
MTU = 1450
# The image runs ifupdown's networking.service only on hosts whose seed brings this file, and
# systemd-networkd only on the others (image.py, NETWORK_SWITCH).
INTERFACES = "etc/network/interfaces"
def chpasswd_input(password: Password) -> bytes:
    """What chpasswd reads on stdin to set root's password (hashed on the host, with its own
    method)."""
    return f"root:{password.reveal()}\n".encode()


def seed_files(address: str, prefixlen: int, gateway: str, password_login: bool) -> dict[str, str]:
    """The seed of a vps-like host besides what every lab host gets (apt proxy, /etc/hosts,
    authorized key)."""
    files = {
        INTERFACES: (
            "# The provider's static addressing (ifupdown), as the VPS was delivered.\n"
            "source /etc/network/interfaces.d/*\n\n"
            "auto lo\niface lo inet loopback\n\n"
            "auto host0\niface host0 inet static\n"
            f"    address {address}/{prefixlen}\n"
            f"    gateway {gateway}\n"
            f"    mtu {MTU}\n"
        ),
        # A regular file, not a symlink into a resolver's runtime directory: what the provider
        # wrote at installation. The provider's resolver is the lab's DNS server.
        "etc/resolv.conf": f"# The provider's resolver.\nnameserver {gateway}\n",
        # Low-numbered: a state that manages rp_filter in a file of its own overrides it at boot.
        "etc/sysctl.d/30-provider.conf": (
            "# As the provider's image sets it: strict reverse path filtering.\n"
            "net.ipv4.conf.default.rp_filter = 1\n"
            "net.ipv4.conf.all.rp_filter = 1\n"
        ),
    }
    if password_login:
        files["etc/ssh/sshd_config.d/50-provider-root-login.conf"] = (
            "# As the provider delivers the server: root may log in with the password given at\n"
            "# ordering (Debian's own default is key only).\n"
            "PermitRootLogin yes\nPasswordAuthentication yes\n"
        )
    return files
