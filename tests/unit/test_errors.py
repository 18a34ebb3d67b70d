"""One-line messages that never carry a value."""

from dsu.errors import one_line


def test_one_line_keeps_the_position_and_drops_excerpts_and_pgp_blocks():
    message = ('not valid YAML: mapping values are not allowed here\n'
               '  in "<unicode string>", line 2, column 9:\n    password: hunter2: x\n            ^')
    assert one_line(message) == \
        "not valid YAML: mapping values are not allowed here (line 2, column 9)"
    cipher = "Could not decrypt cipher b'-----BEGIN PGP MESSAGE-----\\n\\nhQ\\n-----END PGP MESSAGE-----\\n'"
    assert one_line(cipher) == "Could not decrypt cipher b'[PGP message]\\n'"
    assert len(one_line("x" * 1000)) == 300
