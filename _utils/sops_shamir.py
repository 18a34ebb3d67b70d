"""
Shamir's secret sharing over GF(2^8), as sops splits a data key across ``key_groups``: one
polynomial per secret byte, each share the y values followed by its x coordinate (1..parts).
Loaded by ``sopsfile.py`` (see there); raises ValueError.
"""

import os


def _gf_mul(a, b):
    product = 0
    while b:
        if b & 1:
            product ^= a
        a = ((a << 1) ^ 0x11B) if a & 0x80 else a << 1
        b >>= 1
    return product


def _gf_inv(a):
    result, power, exponent = 1, a, 254  # a^254 = a^-1 in GF(2^8)
    while exponent:
        if exponent & 1:
            result = _gf_mul(result, power)
        power = _gf_mul(power, power)
        exponent >>= 1
    return result


def split(secret, parts, threshold):
    """*parts* shares of *secret*, any *threshold* of which recover it."""
    if not 2 <= threshold <= parts <= 255:
        raise ValueError("need 2 <= threshold <= parts <= 255")
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coefficients = [byte, *os.urandom(threshold - 1)]
        for index, share in enumerate(shares):
            x, y = index + 1, 0
            for coefficient in reversed(coefficients):  # Horner's rule
                y = _gf_mul(y, x) ^ coefficient
            share.append(y)
    return [bytes(share) + bytes([index + 1]) for index, share in enumerate(shares)]


def combine(shares):
    """The secret of shares made by :func:`split` (or sops): Lagrange interpolation at x = 0."""
    xs = [share[-1] for share in shares]
    if not shares or len(set(xs)) != len(xs) or len({len(s) for s in shares}) != 1:
        raise ValueError("Shamir shares are missing, duplicated or of different lengths")
    secret = bytearray()
    for position in range(len(shares[0]) - 1):
        value = 0
        for i, share in enumerate(shares):
            basis = 1  # Lagrange basis polynomial i at x = 0
            for j, xj in enumerate(xs):
                if i != j:
                    basis = _gf_mul(basis, _gf_mul(xj, _gf_inv(xs[i] ^ xj)))
            value ^= _gf_mul(share[position], basis)
        secret.append(value)
    return bytes(secret)
