"""An interop TestService server on grpclib (pure-Python asyncio HTTP/2 and
gRPC), written by us per grpc/grpc doc/interop-test-descriptions.md.

    python tests/interop/grpclib_server.py --port=0

Prints `LISTENING <port>` once serving; runs until killed.

grpclib implements no compression; `grpclib_gzip` adds gzip to grpclib's
message path (see there), and this server uses it as the grpcio one uses
the C core's: `expect_compressed` is checked against how each request came
(`came_compressed`), a unary response is compressed when
`response_compressed` asks for it, and the streaming methods compress every
response except those whose `ResponseParameters.compressed` is not true
(`set_compression`, `disable_next_message_compression`).
"""

import asyncio

import common
import grpclib_gzip

args = common.server_args()
grpclib_gzip.install()

from grpclib.const import Status  # noqa: E402
from grpclib.exceptions import GRPCError  # noqa: E402
from grpclib.server import Server  # noqa: E402

from grpc.testing import empty_pb2, messages_pb2, test_grpc  # noqa: E402


def payload(size: int) -> messages_pb2.Payload:
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


class Call:
    """Echoes the test metadata and ends the call with a status."""

    def __init__(self, stream):
        self.stream = stream
        md = stream.metadata or {}
        self.initial = md.get(common.ECHO_INITIAL)
        self.trailing = md.get(common.ECHO_TRAILING)

    async def begin(self):
        if self.initial is not None:
            await self.stream.send_initial_metadata(metadata={common.ECHO_INITIAL: self.initial})

    async def end(self, code: int = 0, message: str = ""):
        md = {common.ECHO_TRAILING: self.trailing} if self.trailing is not None else None
        await self.stream.send_trailing_metadata(
            status=Status(code), status_message=message or None, metadata=md)

    async def requests(self):
        while (m := await self.stream.recv_message()) is not None:
            yield m


def compression_mismatch(stream, req):
    """Why `req` fails the call (INVALID_ARGUMENT) when its
    `expect_compressed` is set and does not match how it came; else None."""
    compressed = grpclib_gzip.came_compressed(stream)
    if req.HasField("expect_compressed") and req.expect_compressed.value != compressed:
        return f"expected compressed={req.expect_compressed.value}, got compressed={compressed}"
    return None


async def stream_responses(call: Call, req) -> bool:
    """Sends what one StreamingOutputCallRequest asks for, each response
    compressed or not as asked; True if it also asked for a status (which
    then ended the call)."""
    for p in req.response_parameters:
        if p.interval_us:
            await asyncio.sleep(p.interval_us / 1e6)
        if not p.compressed.value:
            grpclib_gzip.disable_next_message_compression(call.stream)
        await call.stream.send_message(messages_pb2.StreamingOutputCallResponse(payload=payload(p.size)))
    if req.response_status.code:
        await call.end(req.response_status.code, req.response_status.message)
        return True
    return False


class TestService(test_grpc.TestServiceBase):
    async def EmptyCall(self, stream):
        call = Call(stream)
        await stream.recv_message()
        await call.begin()
        await stream.send_message(empty_pb2.Empty())
        await call.end()

    async def UnaryCall(self, stream):
        call = Call(stream)
        req = await stream.recv_message()
        if req.response_compressed.value:
            grpclib_gzip.set_compression(stream)
        await call.begin()
        if why := compression_mismatch(stream, req):
            return await call.end(Status.INVALID_ARGUMENT.value, why)
        if req.response_status.code:
            return await call.end(req.response_status.code, req.response_status.message)
        await stream.send_message(messages_pb2.SimpleResponse(payload=payload(req.response_size)))
        await call.end()

    CacheableUnaryCall = UnaryCall

    async def StreamingOutputCall(self, stream):
        call = Call(stream)
        grpclib_gzip.set_compression(stream)  # stream_responses says which not
        req = await stream.recv_message()
        await call.begin()
        if not await stream_responses(call, req):
            await call.end()

    async def StreamingInputCall(self, stream):
        call = Call(stream)
        await call.begin()
        total = 0
        async for req in call.requests():
            if why := compression_mismatch(stream, req):
                return await call.end(Status.INVALID_ARGUMENT.value, why)
            total += len(req.payload.body)
        await stream.send_message(messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total))
        await call.end()

    async def FullDuplexCall(self, stream):
        call = Call(stream)
        grpclib_gzip.set_compression(stream)  # stream_responses says which not
        await call.begin()
        async for req in call.requests():
            if await stream_responses(call, req):
                return
        await call.end()

    async def HalfDuplexCall(self, stream):
        call = Call(stream)
        grpclib_gzip.set_compression(stream)  # stream_responses says which not
        await call.begin()
        reqs = [r async for r in call.requests()]
        for req in reqs:
            if await stream_responses(call, req):
                return
        await call.end()

    async def UnimplementedCall(self, stream):
        raise GRPCError(Status.UNIMPLEMENTED, "UnimplementedCall is never implemented")


async def main() -> None:
    server = Server([TestService()])
    await server.start("127.0.0.1", args.port)
    common.announce(server._server.sockets[0].getsockname()[1])
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
