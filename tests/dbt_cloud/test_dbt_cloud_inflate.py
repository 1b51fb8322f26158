"""Bounded decompression: every piece is at most the asked size, and real encodings decode exactly."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from airflow_provider_databand_dbt.dbt_cloud.inflate import _Inflater

PAYLOAD = b'{"data": [' + b",".join(b'{"id": %d, "name": "run %d"}' % (i, i) for i in range(20_000)) + b"]}"


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def inflate_in_random_reads(body: bytes, *, gzip_encoded: bool, size: int) -> list[bytes]:
    rng = random.Random(7)
    inflater = _Inflater(gzip=gzip_encoded)
    pieces, position = [], 0
    while position < len(body):
        step = rng.randint(1, 5000)
        pieces += list(inflater.feed(body[position : position + step], size))
        position += step
    return pieces


@pytest.mark.parametrize(
    ("body", "is_gzip"),
    [
        (gzip.compress(PAYLOAD), True),
        (gzip.compress(PAYLOAD[:1000]) + gzip.compress(PAYLOAD[1000:]), True),  # two members
        (gzip.compress(PAYLOAD) + b"\0\0garbage", True),
        (zlib.compress(PAYLOAD), False),
        (raw_deflate(PAYLOAD), False),
    ],
    ids=["gzip", "gzip-members", "gzip-trailing-garbage", "deflate-zlib", "deflate-raw"],
)
def test_decodes_exactly_in_bounded_pieces(body, is_gzip):
    pieces = inflate_in_random_reads(body, gzip_encoded=is_gzip, size=4096)
    assert b"".join(pieces) == PAYLOAD
    assert max(len(piece) for piece in pieces) <= 4096


def test_a_bomb_never_yields_more_than_the_piece_size():
    bomb = gzip.compress(b" " * (64 * 1024**2), compresslevel=9)  # 64 MiB in ~64 KiB
    inflater = _Inflater(gzip=True)
    pieces = inflater.feed(bomb, 1024**2)
    first = next(pieces)
    assert len(first) == 1024**2  # one bounded piece; the rest stays compressed until asked for


def test_corrupt_gzip_raises():
    with pytest.raises(zlib.error):
        list(_Inflater(gzip=True).feed(b"\x1f\x8b\x08\x00garbage-not-deflate", 1024))
