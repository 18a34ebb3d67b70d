"""Shamir's secret sharing over GF(2^8) (_utils/sops_shamir.py), as sops splits a data key."""

import itertools
import os

import pytest

from tests.support.saltmods import load

shamir = load("_utils", "sops_shamir")


def test_any_threshold_of_the_shares_recovers_the_secret():
    secret = os.urandom(32)
    shares = shamir.split(secret, 5, 3)
    assert [s[-1] for s in shares] == [1, 2, 3, 4, 5] and all(len(s) == 33 for s in shares)
    for chosen in itertools.combinations(shares, 3):
        assert shamir.combine(list(chosen)) == secret
    assert shamir.combine(shares[:2]) != secret


def test_bad_parameters_and_shares_are_value_errors():
    with pytest.raises(ValueError):
        shamir.split(b"k", 2, 3)
    share = shamir.split(b"key", 3, 2)[0]
    with pytest.raises(ValueError, match="duplicated"):
        shamir.combine([share, share])
