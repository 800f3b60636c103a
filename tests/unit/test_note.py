"""Checkpoints and signed notes in the C2SP formats, checked against the published vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_verify import note as tlog

# --- published vectors ------------------------------------------------------------------------
# The key pair and notes of the Go implementation of signed notes, golang.org/x/mod/sumdb/note,
# file note_test.go (TestNewVerifier, TestNewSigner, TestSign, TestOpen). Its private key is
# "PRIVATE+KEY+<name>+<key ID>+base64(0x01 ‖ Ed25519 seed)".
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
# The same file's keys that must be refused even though their key IDs were adjusted to match:
# one with a key of the wrong length, one with an unknown algorithm byte.
WRONG_LENGTH_VKEY = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
UNKNOWN_ALGORITHM_VKEY = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
# The example checkpoint of c2sp.org/tlog-checkpoint (its signing key is not published).
SPEC_CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def peter_key() -> Ed25519PrivateKey:
    typed_seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert typed_seed[0] == 0x01 and len(typed_seed) == 33
    return Ed25519PrivateKey.from_private_bytes(typed_seed[1:])


PETER = tlog.parse_verifier_key(PETER_VKEY)
ENOCH = tlog.parse_verifier_key(ENOCH_VKEY)


# --- checkpoints ------------------------------------------------------------------------------


def test_the_spec_checkpoint_parses_and_is_written_back_byte_for_byte() -> None:
    cp = tlog.parse_checkpoint(SPEC_CHECKPOINT)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert tlog.checkpoint_body(cp.origin, cp.size, cp.root) == SPEC_CHECKPOINT


line = st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), min_size=1, max_size=30)


@given(line, st.integers(0, 2**63), st.binary(min_size=32, max_size=32), st.lists(line, max_size=3))
@settings(max_examples=60, deadline=None)
def test_checkpoints_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    body = tlog.checkpoint_body(origin, size, root, extensions)
    assert body.endswith("\n") and body.count("\n") == 3 + len(extensions)
    assert body.split("\n")[1] == str(size)
    assert tlog.parse_checkpoint(body) == tlog.Checkpoint(origin, size, root, tuple(extensions))


ROOT_B64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    "body",
    [
        SPEC_CHECKPOINT[:-1],  # no final newline
        SPEC_CHECKPOINT + "extension",  # nor after an extension line
        "example.com/log\n5\n",  # no root line
        "\n5\n" + ROOT_B64 + "\n",  # empty origin
        "log\n05\n" + ROOT_B64 + "\n",  # leading zero
        "log\n+5\n" + ROOT_B64 + "\n",
        "log\n 5\n" + ROOT_B64 + "\n",
        "log\n5 \n" + ROOT_B64 + "\n",
        "log\n-1\n" + ROOT_B64 + "\n",
        "log\n\u0665\n" + ROOT_B64 + "\n",  # a non-ASCII digit
        "log\n5\n" + ROOT_B64[:-1] + "\n",  # padding missing
        "log\n5\n" + ROOT_B64[:-2] + "J=\n",  # not the canonical spelling
        "log\n5\n" + base64.b64encode(bytes(31)).decode() + "\n",  # 31 bytes
        "log\n5\n" + ROOT_B64.replace("/", "_") + "\n",  # URL-safe alphabet
        "log\n5\n" + ROOT_B64 + "\n\n",  # empty extension line
        "log\n5\n" + ROOT_B64 + "\next\x01\n",  # control character
    ],
)
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(ValueError):
        tlog.parse_checkpoint(body)


def test_checkpoint_body_refuses_what_it_could_not_parse_back() -> None:
    root = bytes(32)
    assert tlog.parse_checkpoint(tlog.checkpoint_body("log", 0, root)).size == 0
    for origin, size, value, extensions in [
        ("", 1, root, ()),
        ("a\nb", 1, root, ()),
        ("log", -1, root, ()),
        ("log", 1, root[:31], ()),
        ("log", 1, root, ("",)),
        ("log", 1, root, ("x\ny",)),
    ]:
        with pytest.raises(ValueError):
            tlog.checkpoint_body(origin, size, value, extensions)


# --- keys -------------------------------------------------------------------------------------


def test_the_go_key_pair_gives_the_published_verifier_key() -> None:
    public = peter_key().public_key()
    assert tlog.verifier_key("PeterNeumann", public) == PETER_VKEY
    assert tlog.key_id("PeterNeumann", public) == bytes.fromhex("c74f20a3")
    raw = base64.b64decode(PETER_VKEY.split("+")[2])[1:]
    assert tlog.key_id("PeterNeumann", public) == hashlib.sha256(b"PeterNeumann\n\x01" + raw).digest()[:4]
    assert PETER == tlog.Verifier("PeterNeumann", bytes.fromhex("c74f20a3"), raw)


def test_every_mangling_of_the_verifier_key_is_refused() -> None:
    # as the Go tests do: every proper substring, and every character changed by one
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(ValueError):
                    tlog.parse_verifier_key(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        with pytest.raises(ValueError):
            tlog.parse_verifier_key(PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :])


def test_keys_of_another_length_or_algorithm_are_refused() -> None:
    with pytest.raises(ValueError):
        tlog.parse_verifier_key(WRONG_LENGTH_VKEY)
    with pytest.raises(ValueError, match="algorithm"):
        tlog.parse_verifier_key(UNKNOWN_ALGORITHM_VKEY)
    empty_kid = hashlib.sha256(b"log\n").digest()[:4].hex()
    with pytest.raises(ValueError, match="empty"):
        tlog.parse_verifier_key(f"log+{empty_kid}+")
    ecdsa_like = b"\x02" + bytes(32)  # another signature type, with its key ID made to match
    kid = hashlib.sha256(b"log\n" + ecdsa_like).digest()[:4].hex()
    with pytest.raises(ValueError, match="algorithm"):
        tlog.parse_verifier_key(f"log+{kid}+{base64.b64encode(ecdsa_like).decode()}")


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\u00a0b", "tab\there"])
def test_invalid_key_names_are_refused(name: str) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError):
        tlog.verifier_key(name, key.public_key())
    with pytest.raises(ValueError):
        tlog.sign_note(TEXT, name, key)


# --- signing and opening notes ----------------------------------------------------------------


def test_signing_reproduces_the_go_note_byte_for_byte() -> None:
    # Ed25519 signatures are deterministic (RFC 8032), so the same key and text give the same note
    assert tlog.sign_note(TEXT, "PeterNeumann", peter_key()) == TEXT + "\n" + PETER_SIG


def test_the_go_notes_open() -> None:
    assert tlog.open_note(TEXT + "\n" + PETER_SIG, [PETER]) == (TEXT, ["PeterNeumann"])
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert tlog.open_note(both, [PETER]) == (TEXT, ["PeterNeumann"])
    assert tlog.open_note(both, [PETER, ENOCH]) == (TEXT, ["PeterNeumann", "EnochRoot"])
    assert tlog.open_note(both, [ENOCH, PETER, ENOCH]) == (TEXT, ["PeterNeumann", "EnochRoot"])
    repeated = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG
    assert tlog.open_note(repeated, [PETER]) == (TEXT, ["PeterNeumann"])


def test_a_note_without_a_known_signature_is_refused() -> None:
    with pytest.raises(ValueError, match="no signature of a known key"):
        tlog.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(ValueError, match="no signature of a known key"):
        tlog.open_note(TEXT + "\n" + ENOCH_SIG, [PETER])


def test_a_line_with_a_known_name_but_another_key_id_is_ignored() -> None:
    blob = base64.b64decode(PETER_SIG.split(" ")[2])
    other_id = "\u2014 PeterNeumann " + base64.b64encode(b"\x00\x00\x00\x00" + blob[4:]).decode() + "\n"
    with pytest.raises(ValueError, match="no signature of a known key"):
        tlog.open_note(TEXT + "\n" + other_id, [PETER])
    assert tlog.open_note(TEXT + "\n" + other_id + ENOCH_SIG, [PETER, ENOCH]) == (TEXT, ["EnochRoot"])
    renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(ValueError, match="no signature of a known key"):
        tlog.open_note(TEXT + "\n" + renamed, [PETER])


@pytest.mark.parametrize(
    "note",
    [
        TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG,
        TEXT.replace("problem,", "problem") + "\n" + PETER_SIG,
        TEXT + "extra line\n" + "\n" + PETER_SIG,
        "\n" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:],  # a longer signature
        TEXT + "\n" + PETER_SIG.replace("SffcvIAQ", "SffcvIAR"),  # another signature, same key ID
    ],
)
def test_a_changed_text_or_signature_is_refused(note: str) -> None:
    with pytest.raises(ValueError, match="does not verify"):
        tlog.open_note(note, [PETER])


@pytest.mark.parametrize(
    "note",
    [
        # the malformed notes of the Go tests
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        TEXT + "\n" + PETER_SIG + ENOCH_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        "\udcff" + TEXT + "\n" + PETER_SIG,  # not UTF-8
        TEXT
        + "\n"
        + "\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
        # and more
        TEXT + PETER_SIG,  # no blank line between text and signatures
        TEXT[:-1] + "\n" + PETER_SIG.replace("\n", ""),  # the text does not end in a newline
        TEXT + "\n" + PETER_SIG.replace("\u2014", "-"),
        TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),  # base64 without its padding
        TEXT + "\n" + PETER_SIG.replace("x08go/", "x08go_"),  # not base64
        TEXT + "\n" + "\u2014 PeterNeumann " + base64.b64encode(b"\xc7\x4f\x20\xa3").decode() + "\n",
        TEXT + "\n" + PETER_SIG.replace("\u2014 ", "\u2014  "),  # empty key name
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(ValueError):
        tlog.open_note(note, [PETER])


def test_a_signature_of_no_more_than_a_key_id_is_malformed_even_from_an_unknown_key() -> None:
    short = "\u2014 Other " + base64.b64encode(b"\x01\x02\x03\x04").decode() + "\n"
    assert tlog.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER]) == (TEXT, ["PeterNeumann"])
    with pytest.raises(ValueError, match="at least one byte"):
        tlog.open_note(TEXT + "\n" + PETER_SIG + short, [PETER])


def test_sign_note_refuses_a_text_that_is_not_a_note_text() -> None:
    for text in ["abc", "", "abc\x00\n", "tab\there\n", "\ud800\n"]:
        with pytest.raises(ValueError):
            tlog.sign_note(text, "PeterNeumann", peter_key())


def test_two_different_keys_with_one_name_and_key_id_are_ambiguous() -> None:
    impostor = tlog.Verifier(PETER.name, PETER.key_id, ENOCH.public_key)
    with pytest.raises(ValueError, match="two verifiers"):
        tlog.open_note(TEXT + "\n" + PETER_SIG, [PETER, impostor])
    assert tlog.open_note(TEXT + "\n" + ENOCH_SIG, [PETER, impostor, ENOCH]) == (TEXT, ["EnochRoot"])


def test_cosigners_add_their_lines_and_each_verifies() -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    log = tlog.parse_verifier_key(tlog.verifier_key("example.com/log", log_key.public_key()))
    witness = tlog.parse_verifier_key(tlog.verifier_key("witness.example", witness_key.public_key()))
    body = tlog.checkpoint_body("example.com/log", 7, hashlib.sha256(b"r").digest())
    note = tlog.sign_note(body, "example.com/log", log_key)
    cosigned = tlog.add_signature(note, "witness.example", witness_key)
    assert cosigned.startswith(note) and cosigned.count("\u2014 ") == 2
    assert tlog.open_note(cosigned, [log, witness]) == (body, ["example.com/log", "witness.example"])
    assert tlog.open_note(cosigned, [witness]) == (body, ["witness.example"])
    assert tlog.add_signature(cosigned, "witness.example", witness_key) == cosigned  # replaced, not repeated
    assert tlog.parse_checkpoint(tlog.open_note(cosigned, [log])[0]).size == 7
    tampered = cosigned.replace("\n7\n", "\n8\n")
    for verifiers in ([log], [witness], [log, witness]):
        with pytest.raises(ValueError, match="does not verify"):
            tlog.open_note(tampered, verifiers)
    with pytest.raises(ValueError):
        tlog.add_signature(body, "witness.example", witness_key)  # not a signed note


# --- cosignatures (c2sp.org/tlog-cosignature) -------------------------------------------------
# The spec's example cosignature line: its key is not published, but its bytes show the layout
# (key ID, then the big-endian time 1679315147 of the example's signed message, then 64 bytes).
SPEC_COSIGNATURE = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)


def test_a_cosignature_has_the_layout_and_message_of_the_spec() -> None:
    spec = base64.b64decode(SPEC_COSIGNATURE)
    assert len(spec) == 4 + 8 + 64 and int.from_bytes(spec[4:12], "big") == 1679315147
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    note = tlog.sign_note(SPEC_CHECKPOINT, "example.com/behind-the-sofa", log_key)
    cosigned = tlog.cosign(note, "witness.example.com/w1", witness_key, 1679315147)
    line = cosigned.splitlines()[-1]
    assert line.startswith("\u2014 witness.example.com/w1 ")
    raw = base64.b64decode(line.split(" ")[2])
    public = witness_key.public_key().public_bytes_raw()
    # worked out here from the spec's words, not with the module's helpers
    assert raw[:4] == hashlib.sha256(b"witness.example.com/w1\n\x04" + public).digest()[:4]
    assert raw[4:12] == spec[4:12]
    message = b"cosignature/v1\ntime 1679315147\n" + SPEC_CHECKPOINT.encode()
    witness_key.public_key().verify(raw[12:], message)  # raises if it were signed otherwise
    vkey = tlog.cosigner_key("witness.example.com/w1", witness_key.public_key())
    assert vkey.split("+", 2)[2] == base64.b64encode(b"\x04" + public).decode()
    witness = tlog.parse_verifier_key(vkey)
    log = tlog.parse_verifier_key(tlog.verifier_key("example.com/behind-the-sofa", log_key.public_key()))
    opened = tlog.verify_note(cosigned, [log, witness])
    assert opened.text == SPEC_CHECKPOINT
    assert opened.signers == {"example.com/behind-the-sofa": None, "witness.example.com/w1": 1679315147}


def test_a_cosignature_is_refused_when_the_time_or_text_changed_or_it_is_a_plain_signature() -> None:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    log = tlog.parse_verifier_key(tlog.verifier_key("log.example", log_key.public_key()))
    witness = tlog.parse_verifier_key(tlog.cosigner_key("w.example", witness_key.public_key()))
    note = tlog.sign_note(SPEC_CHECKPOINT, "log.example", log_key)
    cosigned = tlog.cosign(note, "w.example", witness_key, 1700000000)
    name, sig = cosigned.splitlines()[-1][2:].split(" ")
    raw = base64.b64decode(sig)
    later = raw[:4] + (1700000001).to_bytes(8, "big") + raw[12:]
    moved = cosigned.replace(sig, base64.b64encode(later).decode())
    with pytest.raises(ValueError, match="does not verify"):
        tlog.verify_note(moved, [log, witness])
    with pytest.raises(ValueError, match="does not verify"):
        tlog.verify_note(cosigned.replace("20852163", "20852164"), [witness])
    # a plain note signature by the witness key is not a cosignature: its key ID differs, so
    # the line is of an unknown key, and a note with nothing else known has no signature
    plain = tlog.add_signature(note, "w.example", witness_key)
    with pytest.raises(ValueError, match="no signature of a known key"):
        tlog.verify_note(plain, [witness])
    assert tlog.verify_note(tlog.cosign(cosigned, "w.example", witness_key, 5), [witness]).signers == {
        "w.example": 5
    }  # replaced, not repeated
    for bad in (-1, 2**63, True, 1.5):
        with pytest.raises(ValueError, match="POSIX timestamp"):
            tlog.cosign(note, "w.example", witness_key, bad)  # type: ignore[arg-type]
