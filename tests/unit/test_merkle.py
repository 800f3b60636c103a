"""The Merkle tree (RFC 9162 §2.1): roots, proofs from aligned subtrees, and their verification.

Expected values come from outside the module: a naive recursive MTH written here from the RFC's
definition, and the published test tree of the certificate transparency code.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_verify import merkle


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it, over the entries themselves."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:]))


def naive_path_length(index: int, size: int) -> int:
    """len(PATH(index, D[size])) from the RFC's recursion."""
    if size == 1:
        return 0
    k = 1
    while k * 2 < size:
        k *= 2
    return 1 + (naive_path_length(index, k) if index < k else naive_path_length(index - k, size - k))


class Tree:
    """Entries and their complete, aligned subtrees; counts what a proof asks for."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self.calls: list[tuple[int, int]] = []
        self.roots: dict[int, bytes] = {}
        self.size = len(entries)  # the tree a proof is asked of: its subtrees must lie within
        # levels[l][i] = MTH of entries [i * 2**l, (i + 1) * 2**l): for a power of two the RFC's
        # split is in the middle, so each level pairs the one below
        self.levels = [[sha(b"\x00" + e) for e in entries]]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([sha(b"\x01" + below[i] + below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def subtree(self, level: int, index: int) -> bytes:
        assert level >= 0 and index >= 0, (level, index)
        assert (index + 1) << level <= self.size, f"({level}, {index}) is not complete in {self.size}"
        self.calls.append((level, index))
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        size = len(self.entries) if size is None else size
        if size not in self.roots:
            self.roots[size] = naive_mth(self.entries[:size])
        return self.roots[size]


def entries(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(n)]


@functools.cache
def tree_of(size: int) -> Tree:
    """One tree per size for the property tests (building it is most of their cost)."""
    return Tree(entries(size))


def flip(value: bytes, at: int = 0) -> bytes:
    return value[:at] + bytes([value[at] ^ 0x10]) + value[at + 1 :]


def bound(n: int) -> int:
    return 2 * math.ceil(math.log2(n)) + 2 if n > 1 else 1


# --- hashes and roots -------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated_sha256() -> None:
    assert merkle.leaf_hash(b"abc") == sha(b"\x00abc")
    assert merkle.node_hash(b"L" * 32, b"R" * 32) == sha(b"\x01" + b"L" * 32 + b"R" * 32)
    assert merkle.root([]) == sha(b"") == merkle.EMPTY_ROOT


@given(st.lists(st.binary(max_size=8), max_size=70))
@settings(max_examples=60, deadline=None)
def test_root_is_the_rfc_mth(data: list[bytes]) -> None:
    assert merkle.root([merkle.leaf_hash(d) for d in data]) == naive_mth(data)


def test_root_of_every_small_tree() -> None:
    data = entries(33)
    for n in range(34):
        assert merkle.root([merkle.leaf_hash(d) for d in data[:n]]) == naive_mth(data[:n]), n


# --- the published test tree of certificate transparency --------------------------------------
# From transparency-dev/merkle (the Go code of certificate transparency): the eight leaf inputs
# and the roots of sizes 1..8 in testonly/constants.go (LeafInputs, RootHashes), the inclusion
# and consistency paths in proof/verify_test.go (inclusionProofs, whose leaf numbers count
# from 1, and consistencyProofs).

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def hexes(*values: str) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


CT_INCLUSION = [  # (index counted from 0, size, path)
    (0, 1, []),
    (
        0,
        8,
        hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        hexes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, hexes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        hexes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        hexes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


def test_ct_roots_of_sizes_1_to_8() -> None:
    hashes = [merkle.leaf_hash(d) for d in CT_LEAVES]
    assert [merkle.root(hashes[:n]) for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_paths(index: int, size: int, path: list[bytes]) -> None:
    tree = Tree(CT_LEAVES[:size])
    assert merkle.inclusion_proof(index, size, tree.subtree) == path
    leaf = merkle.leaf_hash(CT_LEAVES[index])
    assert merkle.verify_inclusion(index, size, leaf, path, CT_ROOTS[size - 1])
    assert not merkle.verify_inclusion(index, size, leaf, path, CT_ROOTS[size - 2 if size > 1 else 1])


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_ct_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    tree = Tree(CT_LEAVES[:new])
    assert merkle.consistency_proof(old, new, tree.subtree) == proof
    assert merkle.verify_consistency(old, new, CT_ROOTS[old - 1], CT_ROOTS[new - 1], proof)
    assert not merkle.verify_consistency(old, new, CT_ROOTS[old - 1], CT_ROOTS[new - 2], proof)


# --- range_hash and its precondition ----------------------------------------------------------


def test_range_hash_of_rfc_ranges_and_refused_ranges() -> None:
    data = entries(16)
    tree = Tree(data)
    for start, end in [(0, 16), (0, 13), (8, 13), (8, 11), (12, 13), (4, 7), (2, 6), (5, 6)]:
        assert merkle.range_hash(start, end, tree.subtree) == naive_mth(data[start:end]), (start, end)
    for start, end in [(3, 6), (1, 4), (6, 11), (2, 2), (5, 4), (-1, 1)]:
        with pytest.raises(ValueError):
            merkle.range_hash(start, end, tree.subtree)


def test_range_hash_asks_for_one_subtree_per_bit_of_the_length() -> None:
    tree = Tree(entries(64))
    merkle.range_hash(32, 32 + 0b10110, tree.subtree)
    assert tree.calls == [(4, 2), (2, 12), (1, 26)]


# --- proofs of every size: verification, the subtrees asked for, tampering --------------------


def asked(
    tree: Tree, size: int, make: Callable[[merkle.Subtree], list[bytes]], needed: list[tuple[int, int]]
) -> list[bytes]:
    """The proof ``make`` gives, checking that it asked for each subtree it needed once, no more."""
    tree.calls.clear()
    tree.size = size
    proof = make(tree.subtree)
    assert len(tree.calls) == len(set(tree.calls)) <= bound(size)
    assert sorted(tree.calls) == sorted(needed)
    return proof


def check_inclusion(tree: Tree, index: int, size: int) -> list[bytes]:
    needed = merkle.inclusion_needed(index, size)
    proof = asked(tree, size, lambda subtree: merkle.inclusion_proof(index, size, subtree), needed)
    leaf = merkle.leaf_hash(tree.entries[index])
    assert merkle.verify_inclusion(index, size, leaf, proof, tree.root(size)), (index, size)
    return proof


@given(st.integers(1, 300))
@settings(max_examples=40, deadline=None)
def test_every_inclusion_proof_of_a_tree_verifies(size: int) -> None:
    tree = tree_of(size)
    for index in range(size):
        check_inclusion(tree, index, size)


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.data())))
@settings(max_examples=80, deadline=None)
def test_any_change_to_an_inclusion_proof_is_rejected(case: tuple[int, int, st.DataObject]) -> None:
    size, index, data = case
    tree = tree_of(size)
    proof = check_inclusion(tree, index, size)
    leaf, root = merkle.leaf_hash(tree.entries[index]), tree.root(size)
    at = data.draw(st.integers(0, 31))
    assert not merkle.verify_inclusion(index, size, flip(leaf, at), proof, root)
    assert not merkle.verify_inclusion(index, size, leaf, proof, flip(root, at))
    for i in range(len(proof)):
        changed = [*proof[:i], flip(proof[i], at), *proof[i + 1 :]]
        assert not merkle.verify_inclusion(index, size, leaf, changed, root)
    assert not merkle.verify_inclusion(index, size, leaf, [*proof, root], root)
    assert not merkle.verify_inclusion(index, size, leaf, [root, *proof], root)
    if proof:
        assert not merkle.verify_inclusion(index, size, leaf, proof[:-1], root)
    other = data.draw(st.integers(-2, 2 * size + 2).filter(lambda i: i != index))
    assert not merkle.verify_inclusion(other, size, leaf, proof, root)
    for wrong in (size * 2, size // 2, index):
        assert not merkle.verify_inclusion(index, wrong, leaf, proof, root)
    # A size is accepted in place of the true one only if its path has the same length: the
    # proof binds the size through the root alone (see the module's docstring).
    claimed = data.draw(st.integers(0, 2 * size + 2))
    if merkle.verify_inclusion(index, claimed, leaf, proof, root):
        assert naive_path_length(index, claimed) == len(proof)


def check_consistency(tree: Tree, old: int, new: int) -> list[bytes]:
    needed = merkle.consistency_needed(old, new)
    proof = asked(tree, new, lambda subtree: merkle.consistency_proof(old, new, subtree), needed)
    assert merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof), (old, new)
    return proof


def test_every_consistency_proof_up_to_64_leaves_verifies() -> None:
    tree = tree_of(64)
    for new in range(1, 65):
        for old in range(new + 1):
            check_consistency(tree, old, new)


sizes = st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n), st.data()))


@given(sizes)
@settings(max_examples=80, deadline=None)
def test_consistency_proofs_verify_and_any_change_is_rejected(case: tuple[int, int, st.DataObject]) -> None:
    old, new, data = case
    tree = tree_of(new)
    proof = check_consistency(tree, old, new)
    old_root, new_root = tree.root(old), tree.root(new)
    at = data.draw(st.integers(0, 31))
    assert not merkle.verify_consistency(old, new, flip(old_root, at), new_root, proof)
    if old:  # the empty tree is a prefix of every tree, whatever its root
        assert not merkle.verify_consistency(old, new, old_root, flip(new_root, at), proof)
    for i in range(len(proof)):
        changed = [*proof[:i], flip(proof[i], at), *proof[i + 1 :]]
        assert not merkle.verify_consistency(old, new, old_root, new_root, changed)
    assert not merkle.verify_consistency(old, new, old_root, new_root, [*proof, new_root])
    assert not merkle.verify_consistency(old, new, old_root, new_root, [old_root, *proof])
    if proof:
        assert not merkle.verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not merkle.verify_consistency(old, new, old_root, new_root, [])
        assert not merkle.verify_consistency(old, new, new_root, old_root, proof)
    other = data.draw(st.integers(-1, 2 * new + 2).filter(lambda o: o != old))
    assert not merkle.verify_consistency(other, new, old_root, new_root, proof)
    if 0 < old < new:
        assert not merkle.verify_consistency(old, new * 2, old_root, new_root, proof)
        assert not merkle.verify_consistency(old, old, old_root, new_root, proof)


def test_consistency_with_an_empty_or_equal_tree() -> None:
    tree = Tree(entries(5))
    root = tree.root()
    assert merkle.consistency_proof(0, 5, tree.subtree) == [] == merkle.consistency_proof(5, 5, tree.subtree)
    assert tree.calls == [] == merkle.consistency_needed(0, 5) == merkle.consistency_needed(5, 5)
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(0, 5, root, root, [])
    assert not merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [root])
    assert merkle.verify_consistency(5, 5, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, flip(root), [])
    assert not merkle.verify_consistency(5, 5, root, root, [root])


# --- out-of-range arguments: proof makers raise, verifiers say False --------------------------


@pytest.mark.parametrize(
    ("make", "args"),
    [
        (merkle.inclusion_proof, (5, 5)),
        (merkle.inclusion_proof, (-1, 5)),
        (merkle.inclusion_proof, (0, 0)),
        (merkle.consistency_proof, (6, 5)),
        (merkle.consistency_proof, (-1, 5)),
    ],
)
def test_proof_makers_refuse_out_of_range_arguments(
    make: Callable[..., list[bytes]], args: tuple[int, int]
) -> None:
    tree = Tree(entries(5))
    with pytest.raises(ValueError):
        make(*args, tree.subtree)
    needed = merkle.inclusion_needed if make is merkle.inclusion_proof else merkle.consistency_needed
    with pytest.raises(ValueError):
        needed(*args)
    assert tree.calls == []


def test_verifiers_answer_false_for_out_of_range_arguments() -> None:
    tree = Tree(entries(4))
    root, leaf = tree.root(), merkle.leaf_hash(tree.entries[0])
    proof = merkle.inclusion_proof(0, 4, tree.subtree)
    assert merkle.verify_inclusion(0, 4, leaf, proof, root)
    for index, size in [(4, 4), (-1, 4), (0, 0), (0, -4)]:
        assert merkle.verify_inclusion(index, size, leaf, proof, root) is False
    assert merkle.verify_inclusion(0, 4, leaf[:31], proof, root) is False
    assert merkle.verify_inclusion(0, 1, b"", [], b"") is False  # not hashes, though equal
    assert merkle.verify_consistency(1, 1, b"x", b"x", []) is False
    assert merkle.verify_inclusion(0, 4, leaf, [p + b"\x00" for p in proof], root) is False
    one = merkle.consistency_proof(1, 4, tree.subtree)
    old_root = tree.root(1)
    assert merkle.verify_consistency(1, 4, old_root, root, one)
    for old, new in [(4, 1), (-1, 4), (1, -4)]:
        assert merkle.verify_consistency(old, new, old_root, root, one) is False
    assert merkle.verify_consistency(1, 4, old_root, root[:16], one) is False


@given(st.integers(1, 300))
@settings(max_examples=40, deadline=None)
def test_range_needed_names_the_subtrees_a_root_asks_for(size: int) -> None:
    tree = tree_of(size)
    tree.calls.clear()
    tree.size = size
    assert merkle.range_hash(0, size, tree.subtree) == tree.root(size)
    assert sorted(tree.calls) == sorted(merkle.range_needed(0, size))
