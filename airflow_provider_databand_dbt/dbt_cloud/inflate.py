"""Decompress answer bodies in bounded pieces, whatever the compression ratio.

urllib3 inflates each read of compressed bytes in one go, and a gzip body may hold many members:
1 MiB read of a gzip bomb became about 1 GiB in memory before any size limit could look at it.
Here every piece handed to the caller is at most ``size`` bytes (zlib's ``max_length``), so the
JSON and artifact limits hold no matter what the host sends.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import requests
from urllib3.exceptions import DecodeError, HTTPError, ProtocolError, ReadTimeoutError, SSLError

ACCEPT_ENCODING = "gzip, deflate"
_GZIP = ("gzip", "x-gzip")


def decoded_chunks(response: requests.Response, size: int) -> Iterator[bytes]:
    """The body of a ``stream=True`` response, decoded, in pieces of at most ``size`` bytes.

    Raises the same ``requests`` exceptions as ``iter_content`` (``ChunkedEncodingError``,
    ``ConnectionError`` for read timeouts, ``ContentDecodingError``), so callers handle both alike.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_content(chunk_size=size)
        return
    if encoding not in (*_GZIP, "deflate"):
        raise requests.exceptions.ContentDecodingError(f"unsupported Content-Encoding {encoding[:40]!r}")
    inflater = _Inflater(gzip=encoding in _GZIP)
    try:
        for raw in response.raw.stream(size, decode_content=False):
            yield from inflater.feed(raw, size)
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from None
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None
    except (DecodeError, zlib.error) as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except HTTPError as exc:
        raise requests.exceptions.ConnectionError(exc) from None


class _Inflater:
    """gzip (any number of members) or deflate (zlib-wrapped or raw), ``max_length`` at a time."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._members = 0
        self._raw_deflate_tried = False
        self._produced = False
        self._inflater = self._new()
        self._done = False

    def _new(self):
        self._members += 1
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes, size: int) -> Iterator[bytes]:
        while data and not self._done:
            try:
                piece = self._inflater.decompress(data, size)
            except zlib.error:
                if not self._gzip and not self._produced and not self._raw_deflate_tried:
                    # Some servers send raw deflate under "deflate"; urllib3 accepts it too.
                    self._raw_deflate_tried = True
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                if self._gzip and self._members > 1:
                    self._done = True  # garbage after a complete member: ignored, as urllib3 does
                    return
                raise
            self._produced = True
            if piece:
                yield piece
            if self._inflater.eof:
                data = self._inflater.unused_data
                if not self._gzip or not data:
                    self._done = not self._gzip
                    return
                self._inflater = self._new()
                continue
            data = self._inflater.unconsumed_tail
