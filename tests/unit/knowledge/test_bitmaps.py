"""Posting bitmaps: chunks stored small or dense, combined for exact totals and ordered pages."""

from __future__ import annotations

import random

import pytest

from src.infrastructure.persistence.knowledge_bitmaps import (
    CHUNK_BITS,
    MAX_SPARSE,
    decode_chunk,
    encode_chunk,
    postings,
    set_bits,
)


@pytest.mark.parametrize("members", [0, 1, 1 << (CHUNK_BITS - 1), (1 << CHUNK_BITS) - 1])
def test_edge_chunks_round_trip(members: int) -> None:
    assert decode_chunk(encode_chunk(members)) == members


def test_few_members_are_stored_as_offsets_many_as_a_bitmap() -> None:
    rng = random.Random(1)
    few = sum(1 << b for b in rng.sample(range(CHUNK_BITS), MAX_SPARSE - 1))
    many = sum(1 << b for b in rng.sample(range(CHUNK_BITS), MAX_SPARSE))
    assert len(encode_chunk(few)) == 1 + 2 * (MAX_SPARSE - 1)
    assert len(encode_chunk(many)) == 1 + CHUNK_BITS // 8
    assert len(encode_chunk(1 << 5)) == 3  # a rare word costs three bytes per chunk
    for members in (few, many):
        assert decode_chunk(encode_chunk(members)) == members


def test_set_bits_are_listed_lowest_first() -> None:
    assert list(set_bits(0b1010_0001)) == [0, 5, 7]
    assert list(set_bits(0)) == []


def test_postings_group_new_members_by_term_and_chunk() -> None:
    found = postings([(1, {"a", "b"}), (2, {"a"}), (CHUNK_BITS + 3, {"a"})])
    assert found == {("a", 0): 0b110, ("b", 0): 0b10, ("a", 1): 0b1000}
