"""The Merkle tree of a transparency log (RFC 9162 §2.1): hashes, proofs and their verification.

Pure functions over SHA-256, with no storage and nothing of the service but ``hashlib``, so an
offline verifier can use this module as it is.

- Hashes: ``leaf_hash`` = SHA-256(0x00 ‖ data), ``node_hash`` = SHA-256(0x01 ‖ left ‖ right),
  ``root`` = MTH of a list of leaf hashes (the empty tree's is SHA-256 of nothing).
- Proofs are made without knowing how the tree is stored: the caller passes
  ``subtree(level, index)``, the hash of the complete, aligned subtree of ``2**level`` leaves
  that starts at leaf ``index * 2**level`` (level 0 is a leaf hash). ``inclusion_needed`` and
  ``consistency_needed`` name every subtree a proof will ask for (O(log n) of them), so that a
  store can read them in one query before it makes the proof.
- Verification follows the algorithms of §2.1.3.2 and §2.1.4.2 step by step. A verifier answers
  only True or False: sizes, indexes or hashes that prove nothing (an index past the tree, an
  old size above the new one, a negative number, a hash of the wrong length) give False, never
  an exception, since they come from whoever hands out the proof. The proof makers, which the
  log calls with its own numbers, raise ``ValueError`` for such arguments instead.
- A proof binds the leaf's index, but the tree size only through the root: another size whose
  path has the same shape accepts the same proof (in every RFC 9162 verifier). The signed
  checkpoint, which states size and root together, is what binds the size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]
"""``subtree(level, index)``: the hash of leaves ``[index * 2**level, (index + 1) * 2**level)``."""

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data): the hash of one entry of the log."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the given leaf hashes, in O(n) hashes; ``EMPTY_ROOT`` for none.

    Pairs neighbours level by level and lifts a level's last, unpaired node unchanged, which
    gives the same tree as the RFC's split at the largest power of two below n.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (for n > 1): where the RFC splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _pieces(start: int, end: int) -> list[tuple[int, int]]:
    """The complete, aligned subtrees, left to right, whose fold is MTH(D[start:end])."""
    if end <= start or start < 0:
        raise ValueError(f"empty or negative leaf range [{start}, {end})")
    if end - start > 1 and start % _split(end - start):
        raise ValueError(f"leaf range [{start}, {end}) is not a node of a Merkle tree")
    pieces = []
    size = end - start
    while size > 1 and (size & (size - 1) or start % size):
        left = _split(size)
        pieces.append((left.bit_length() - 1, start // left))
        start, size = start + left, size - left
    level = size.bit_length() - 1
    pieces.append((level, start >> level))
    return pieces


def range_hash(start: int, end: int, subtree: Subtree) -> bytes:
    """MTH(D[start:end]) from the complete, aligned subtrees it splits into (popcount(end-start) calls).

    Precondition (``ValueError`` otherwise): ``0 <= start < end`` and, when the range has more
    than one leaf, ``start`` is a multiple of the largest power of two below ``end - start``.
    Every range that the PATH and SUBPROOF recursions of RFC 9162 hash meets it: its left part
    is then one complete, aligned subtree and its right part a smaller range that meets it too.
    """
    hashes = [subtree(level, index) for level, index in _pieces(start, end)]
    hashed = hashes.pop()
    while hashes:
        hashed = node_hash(hashes.pop(), hashed)
    return hashed


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make PATH(index, D[size]), in the RFC's order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make PROOF(old_size, D[new_size]), in the RFC's order."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size in (0, new_size):
        return []
    ranges = []
    start, end, whole = 0, new_size, True
    while old_size != end:
        k = _split(end - start)
        if old_size <= start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, whole = start + k, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _needed(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    seen: dict[tuple[int, int], None] = {}
    for start, end in ranges:
        seen.update(dict.fromkeys(_pieces(start, end)))
    return list(seen)


def range_needed(start: int, end: int) -> list[tuple[int, int]]:
    """Every (level, index) that ``range_hash(start, end, ...)`` asks ``subtree`` for."""
    return _pieces(start, end)


def inclusion_needed(index: int, size: int) -> list[tuple[int, int]]:
    """Every (level, index) that ``inclusion_proof(index, size, ...)`` asks ``subtree`` for.

    At most 2·⌈log2 size⌉ + 1 of them, each once; ``ValueError`` unless 0 <= index < size.
    """
    return _needed(_inclusion_ranges(index, size))


def consistency_needed(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Every (level, index) that ``consistency_proof(old_size, new_size, ...)`` asks for.

    At most 2·⌈log2 new_size⌉ + 2 of them; ``ValueError`` unless 0 <= old_size <= new_size.
    """
    return _needed(_consistency_ranges(old_size, new_size))


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1: the sibling hashes from the leaf up.

    ``ValueError`` unless 0 <= index < size. Asks ``subtree`` only for the pieces
    ``inclusion_needed`` lists.
    """
    return [range_hash(start, end, subtree) for start, end in _inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true).

    Empty when ``old_size`` is 0 or equal to ``new_size`` (nothing to prove); ``ValueError``
    unless 0 <= old_size <= new_size. Asks only for the pieces ``consistency_needed`` lists.
    """
    return [range_hash(start, end, subtree) for start, end in _consistency_ranges(old_size, new_size)]


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == 32


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """True only if ``proof`` shows that ``leaf`` (a leaf hash) is leaf ``index`` of the tree
    of ``size`` leaves whose root is ``root_hash`` (RFC 9162 §2.1.3.2).

    False, never an exception, for anything else, including ``index >= size`` or a negative
    index and hashes that are not 32 bytes.
    """
    if not 0 <= index < size or not _is_hash(leaf) or not _is_hash(root_hash):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True only if ``proof`` shows that the tree of ``old_size`` leaves with root ``old_root``
    is a prefix of the tree of ``new_size`` leaves with root ``new_root`` (RFC 9162 §2.1.4.2).

    The cases the RFC leaves out: equal sizes are consistent with an empty proof and equal
    roots; an empty old tree with an empty proof, if ``old_root`` is ``EMPTY_ROOT``. False,
    never an exception, for anything else, including ``old_size > new_size`` and negative sizes.
    """
    if not 0 <= old_size <= new_size or not _is_hash(old_root) or not _is_hash(new_root):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
