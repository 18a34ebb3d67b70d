"""The SOPS value cipher (_utils/sops_cipher.py): ENC tokens round-trip every sops type, refuse a
wrong key or key path, and numbers and times are written as sops (Go) writes them."""

import datetime
import os

import pytest

from tests.support.saltmods import load

cipher = load("_utils", "sops_cipher")
KEY = os.urandom(32)


@pytest.mark.parametrize(("value", "kind"), [
    ("secret", "str"), (8080, "int"), (-1.25, "float"), (True, "bool"), (False, "bool"),
    (b"\x00\xff", "bytes"), (datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC), "time")])
def test_values_round_trip_with_their_type(value, kind):
    token = cipher.encrypt_value(value, KEY, "a:b:")
    assert token.startswith("ENC[AES256_GCM,data:") and token.endswith(f",type:{kind}]")
    assert cipher.decrypt_value(token, KEY, "a:b:") == value


def test_empty_values_stay_empty():
    assert cipher.encrypt_value("", KEY, "a:") == ""
    assert cipher.decrypt_value("", KEY, "a:") == ""


@pytest.mark.parametrize(("key", "aad"), [(os.urandom(32), "a:b:"), (KEY, "a:c:")],
                         ids=["other-key", "other-path"])
def test_a_wrong_key_or_key_path_does_not_authenticate(key, aad):
    token = cipher.encrypt_value("secret", KEY, "a:b:")
    with pytest.raises(ValueError, match="authentication failed"):
        cipher.decrypt_value(token, key, aad)


def test_what_is_not_a_token_is_a_value_error():
    for token in ("plain", 5, "ENC[AES256_GCM,data:!!,iv:!!,tag:!!,type:str]"):
        with pytest.raises(ValueError):
            cipher.decrypt_value(token, KEY, "a:")


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (0.1, "0.1"), (-2.5, "-2.5"), (1e21, "1000000000000000000000"), (1e-7, "0.0000001"),
    (1.5e-5, "0.000015"), (123456789.125, "123456789.125")])
def test_floats_are_written_as_go_writes_them(value, text):
    assert cipher.go_float(value) == text


def test_times_are_rfc3339_and_naive_ones_utc():
    assert cipher.rfc3339(datetime.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"
    offset = datetime.timezone(datetime.timedelta(hours=2))
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=offset)
    assert cipher.rfc3339(moment) == "2024-01-02T03:04:05+02:00"


def test_typed_reads_go_booleans_and_integral_floats_as_integers():
    assert [cipher.typed(t.encode(), "bool") for t in ("1", "t", "TRUE", "0", "f", "False")] == [
        True, True, True, False, False, False]
    assert cipher.typed(b"8080", "float") == 8080 and cipher.typed(b"80.5", "float") == 80.5
    with pytest.raises(ValueError):
        cipher.typed(b"yes", "bool")


def test_a_value_sops_cannot_hold_is_a_value_error():
    with pytest.raises(ValueError, match="type set"):
        cipher.plain_bytes({1})
