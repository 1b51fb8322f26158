"""Large JSON answers written while they are read, so the server never holds a whole encoded body.

A page of a run's report (up to 10,000 nodes) or of its timeline used to be built as objects, then
encoded in one piece: both copies lived at once, per request. Here the small part of the answer is
encoded as usual with a placeholder for each big array, and each array is encoded from rows as they
come out of the store, in chunks of about ``CHUNK_BYTES``. The bytes parse to the same JSON.

The read transaction is a request-scoped FastAPI dependency: FastAPI closes it after the response has
been sent (also when the client goes away), so the stream reads one consistent snapshot.
"""

from __future__ import annotations

import itertools
import logging
import operator
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Optional

import msgspec
from fastapi import Request
from fastapi.responses import StreamingResponse

from airflow_provider_databand_dbt.tracking.read import Connection

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024

_encoder = msgspec.json.Encoder()
_TOKEN = f"stream-{secrets.token_hex(16)}-"


def read_connection(request: Request) -> Iterator[Connection]:
    """FastAPI dependency: one read transaction that lasts until the (streamed) response is sent."""
    with request.app.state.store.read() as conn:
        yield conn


def json_array(items: Iterable[Any]) -> Iterator[bytes]:
    """``[item, ...]`` encoded in chunks of about ``CHUNK_BYTES``."""
    buffer = bytearray(b"[")
    for index, item in enumerate(items):
        if index:
            buffer += b","
        _encoder.encode_into(item, buffer, -1)
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    buffer += b"]"
    yield bytes(buffer)


def placeholder(name: str) -> str:
    """A value to put in the data of :func:`json_with_arrays` where the array ``name`` goes.

    Random per process, so no value of the data can be mistaken for one.
    """
    return f"{_TOKEN}{name}"


def json_with_arrays(data: Any, arrays: Mapping[str, Iterable[Any]]) -> Iterator[bytes]:
    """``data`` encoded, each ``placeholder(name)`` in it replaced by the streamed array ``arrays[name]``.

    ``arrays`` are listed in the order their placeholders appear in the encoded data.
    """
    encoded = _encoder.encode(data)
    for name, items in arrays.items():
        before, encoded = encoded.split(_encoder.encode(placeholder(name)), 1)
        yield before
        yield from json_array(items)
    yield encoded


def json_groups(items: Iterable[Any], *, key: str, items_name: str) -> Iterator[bytes]:
    """``[{key: k, items_name: [item, ...]}, ...]`` for runs of consecutive items with the same ``key`` attribute."""
    yield b"["
    for index, (value, group) in enumerate(itertools.groupby(items, key=operator.attrgetter(key))):
        if index:
            yield b","
        yield from json_with_arrays({key: value, items_name: placeholder(items_name)}, {items_name: group})
    yield b"]"


def streamed_json(
    chunks: Iterable[bytes], *, next_url: Optional[str] = None, headers: Optional[Mapping[str, str]] = None
) -> StreamingResponse:
    """A ``200 application/json`` response sending ``chunks`` as they come (``Link: rel="next"`` when paged)."""
    all_headers = dict(headers or {})
    if next_url:
        all_headers["Link"] = f'<{next_url}>; rel="next"'
    return StreamingResponse(_coalesced(_until_error(chunks)), media_type="application/json", headers=all_headers)


def _until_error(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, ending early (the body then does not parse) if reading the store fails midway.

    The status line is already sent by then: a clear log line beats a traceback from the server.
    """
    try:
        yield from chunks
    except Exception as error:  # noqa: BLE001 - any failure midway ends the body the same way
        log.error(
            "Stopped sending a JSON answer midway (%s): the client gets an incomplete body. "
            "Check that the tracking store is reachable.",
            type(error).__name__,
        )


def _coalesced(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Small pieces joined up to ``CHUNK_BYTES``: each chunk costs the server a hop to a worker thread."""
    buffer = bytearray()
    for chunk in chunks:
        if buffer and len(buffer) + len(chunk) > CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
        buffer += chunk
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
