"""gzip message compression for grpclib, which has none, so that the grpclib
peers can run the four compression cases of the interop tests.

grpclib 0.4.9 frames every message it sends with the Compressed-Flag clear,
sends neither `grpc-encoding` nor `grpc-accept-encoding`, and fails on a
message whose flag is set (`grpclib/stream.py`: NotImplementedError
'Compression not implemented'). `install()` adds gzip by replacing or
wrapping, in grpclib's own modules:

- `grpclib.stream.recv_message` (as imported by `grpclib.client` and
  `grpclib.server`): the same length-prefixed read on grpclib's stream, but a
  message with the Compressed-Flag set is inflated when the call's
  `grpc-encoding` is gzip (INTERNAL when it is not, UNIMPLEMENTED for an
  encoding other than gzip), and whether it came compressed is recorded for
  `came_compressed`;
- `grpclib.stream.send_message` (same): a message of a call that compresses
  is gzip'd and framed with the flag set; every other message goes through
  grpclib's own function, unchanged;
- the headers: `grpclib.protocol.Stream.send_request` (a client call's
  request headers, reached through `grpclib.client.Stream.send_request`)
  and `grpclib.protocol.Stream.send_headers` (a server call's response
  headers) add `grpc-accept-encoding: gzip`, and `grpc-encoding: gzip` when
  the call compresses; `grpclib.server.Handler.accept` keeps a server call's
  request headers, for its `grpc-encoding` and `grpc-accept-encoding`.

The HTTP/2 connection, the headers grpclib builds, flow control and the
sending of DATA stay grpclib's (and h2's); this module writes the 5-byte
prefix of a compressed message (flag 1 and its length, as grpclib writes
the others) and reads every prefix, and the gzip is Python's `gzip` and
`zlib` modules. The API follows grpcio's servicer context: a call (a
grpclib client or server `Stream`) compresses once `set_compression(call)`
is called, before its headers go out; then every message it sends is
compressed except the next one after `disable_next_message_compression(call)`.
A server call compresses only when its client accepts gzip.
"""

import contextvars
import gzip
import struct

import grpclib.client
import grpclib.protocol
import grpclib.server
import grpclib.stream
from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError

import common

GZIP = "gzip"


class _Gzip:
    """A call's compression state, kept on its grpclib HTTP/2 stream (and on
    a client call before it has one)."""

    def __init__(self, request_headers=None):
        # A server call's request headers; a client call reads the response
        # headers from its HTTP/2 stream.
        self.request_headers = request_headers or []
        self.wanted = False  # set_compression was called
        self.compressing = False  # our headers said grpc-encoding: gzip
        self.headers_sent = False
        self.skip_next = False  # disable_next_message_compression
        self.last_compressed = False  # the last message received


def _header(headers, name: str):
    return next((v for k, v in headers if k == name), None)


def _accepts_gzip(headers) -> bool:
    value = _header(headers, "grpc-accept-encoding") or ""
    return GZIP in (e.strip() for e in value.split(","))


# The state of the client call whose request headers are being sent, from
# `grpclib.client.Stream.send_request` to the HTTP/2 stream it creates.
_opening: contextvars.ContextVar = contextvars.ContextVar("grpclib_gzip_opening")


def _state(call) -> _Gzip:
    """The state of `call`, a grpclib client or server `Stream`."""
    if isinstance(call, grpclib.server.Stream):
        return call._stream._gzip
    if "_gzip" not in call.__dict__:
        call._gzip = _Gzip()
    return call._gzip


def set_compression(call) -> None:
    """`call` sends its messages gzip-compressed (a server call: if its
    client accepts gzip). Before the call's headers go out."""
    state = _state(call)
    if state.headers_sent:
        raise ProtocolError("set_compression after the headers were sent")
    state.wanted = True


def disable_next_message_compression(call) -> None:
    """The next message `call` sends goes out uncompressed."""
    _state(call).skip_next = True


def came_compressed(call) -> bool:
    """Whether the last message `call` received came compressed."""
    return _state(call).last_compressed


async def _recv_message(stream, codec, message_type):
    """grpclib.stream.recv_message, with gzip."""
    meta = await stream.recv_data(5)
    if not meta:
        return None
    flag, length = struct.unpack(">BI", meta)
    data = await stream.recv_data(length)
    assert len(data) == length, f"{len(data)} != {length}"
    state = getattr(stream, "_gzip", None) or _Gzip()
    if flag > 1:
        raise GRPCError(Status.INTERNAL, f"bad Compressed-Flag {flag}")
    if flag:
        headers = stream.headers if stream.headers is not None else state.request_headers
        encoding = _header(headers, "grpc-encoding") or "identity"
        if encoding == "identity":
            raise GRPCError(Status.INTERNAL, "a compressed message without grpc-encoding")
        if encoding != GZIP:
            raise GRPCError(Status.UNIMPLEMENTED, f"grpc-encoding {encoding} is not supported")
        try:
            data = common.inflate(data)
        except Exception as e:  # noqa: BLE001  (zlib.error or the bound)
            raise GRPCError(Status.INTERNAL, f"cannot inflate the message: {e}") from e
    state.last_compressed = bool(flag)
    return codec.decode(data, message_type)


_send_plain = grpclib.stream.send_message


async def _send_message(stream, codec, message, message_type, *, end=False):
    """grpclib.stream.send_message, gzip'd when the call compresses."""
    state = getattr(stream, "_gzip", None)
    compress = state is not None and state.compressing and not state.skip_next
    if state is not None:
        state.skip_next = False
    if not compress:
        return await _send_plain(stream, codec, message, message_type, end=end)
    data = gzip.compress(codec.encode(message, message_type))
    await stream.send_data(struct.pack(">BI", 1, len(data)) + data, end_stream=end)


_client_send_request = grpclib.client.Stream.send_request


async def _call_send_request(self, *, end=False):
    """grpclib.client.Stream.send_request, handing the call's state to the
    HTTP/2 stream it creates."""
    token = _opening.set(_state(self))
    try:
        await _client_send_request(self, end=end)
    finally:
        _opening.reset(token)


_h2_send_request = grpclib.protocol.Stream.send_request


async def _stream_send_request(self, headers, end_stream=False, *, _processor):
    """grpclib.protocol.Stream.send_request: a client call's request headers."""
    state = _opening.get(None) or _Gzip()
    self._gzip = state
    state.headers_sent = True
    headers = [*headers, ("grpc-accept-encoding", GZIP)]
    if state.wanted:
        state.compressing = True
        headers.append(("grpc-encoding", GZIP))
    return await _h2_send_request(self, headers, end_stream, _processor=_processor)


_h2_send_headers = grpclib.protocol.Stream.send_headers


async def _stream_send_headers(self, headers, end_stream=False):
    """grpclib.protocol.Stream.send_headers: a server call's response headers
    (those with `:status`; not the trailers)."""
    state = getattr(self, "_gzip", None)
    if state is not None and any(k == ":status" for k, _ in headers):
        state.headers_sent = True
        headers = [*headers, ("grpc-accept-encoding", GZIP)]
        if state.wanted and not end_stream and _accepts_gzip(state.request_headers):
            state.compressing = True
            headers.append(("grpc-encoding", GZIP))
    return await _h2_send_headers(self, headers, end_stream)


_handler_accept = grpclib.server.Handler.accept


def _accept(self, stream, headers, release_stream):
    """grpclib.server.Handler.accept, keeping the request headers."""
    stream._gzip = _Gzip(list(headers))
    return _handler_accept(self, stream, headers, release_stream)


def install() -> None:
    """Adds gzip to grpclib (idempotent). Fails if grpclib's layout is not
    the one this was written against."""
    if grpclib.client.recv_message is _recv_message:
        return
    for module in (grpclib.client, grpclib.server):
        if module.recv_message is not grpclib.stream.recv_message or module.send_message is not _send_plain:
            raise RuntimeError(f"{module.__name__} does not use grpclib.stream's message functions")
    for module in (grpclib.stream, grpclib.client, grpclib.server):
        module.recv_message = _recv_message
        module.send_message = _send_message
    grpclib.client.Stream.send_request = _call_send_request
    grpclib.protocol.Stream.send_request = _stream_send_request
    grpclib.protocol.Stream.send_headers = _stream_send_headers
    grpclib.server.Handler.accept = _accept
