"""The interop client cases on grpclib (pure-Python asyncio HTTP/2 and
gRPC), written by us per grpc/grpc doc/interop-test-descriptions.md.

    python tests/interop/grpclib_client.py --server_port=N --test_case=all

Prints `PASS <case>` or `FAIL <case>: <why>` per case; exits 0 unless a
case failed.

grpclib implements no compression; `grpclib_gzip` adds gzip to grpclib's
message path (see there), and the four compression cases run on it: a call
compresses its messages after `grpclib_gzip.set_compression(call)`, one
message goes out uncompressed after `disable_next_message_compression`, and
`came_compressed` says whether the last response came compressed, which the
server_compressed_* cases check for every response.

What grpclib cannot do: report a status for a call it cancelled itself
(cancel() resets the stream and the call has no status on the client side):
the cancel cases check instead that the reset goes through and that the
connection still serves a call afterwards.
"""

import asyncio
import sys

import common
import grpclib_gzip
from common import Failed, check

args = common.client_args()
grpclib_gzip.install()

from grpclib.client import Channel  # noqa: E402
from grpclib.const import Status  # noqa: E402
from grpclib.exceptions import GRPCError  # noqa: E402

from grpc.testing import empty_pb2, messages_pb2, test_grpc  # noqa: E402

TIMEOUT = 20  # seconds, per call that is not about deadlines


def payload(size: int) -> messages_pb2.Payload:
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def check_payload(p, size: int, what: str) -> None:
    check(len(p.body) == size and not p.body.strip(b"\x00"),
          f"{what}: expected {size} zero bytes, got {len(p.body)}")


def large_request(**kw) -> messages_pb2.SimpleRequest:
    return messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828), **kw)


async def grpc_error(coro) -> GRPCError:
    try:
        await coro
    except GRPCError as e:
        return e
    raise Failed("the call succeeded but should have failed")


def expect_status(e: GRPCError, want: Status, what="call") -> None:
    check(e.status == want, f"{what}: expected {want}, got {e.status} {e.message!r}")


class Cases:
    def __init__(self, channel):
        self.stub = test_grpc.TestServiceStub(channel)
        self.unimpl = test_grpc.UnimplementedServiceStub(channel)

    async def empty_unary(self):
        r = await self.stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT)
        check(r == empty_pb2.Empty(), "response is not empty")

    async def large_unary(self):
        r = await self.stub.UnaryCall(large_request(), timeout=TIMEOUT)
        check_payload(r.payload, 314159, "response")

    async def client_streaming(self):
        reqs = [messages_pb2.StreamingInputCallRequest(payload=payload(n)) for n in (27182, 8, 1828, 45904)]
        r = await self.stub.StreamingInputCall(reqs, timeout=TIMEOUT)
        check(r.aggregated_payload_size == 74922, f"aggregated {r.aggregated_payload_size}")

    async def server_streaming(self):
        sizes = (31415, 9, 2653, 58979)
        req = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
        rs = await self.stub.StreamingOutputCall(req, timeout=TIMEOUT)
        check(len(rs) == len(sizes), f"{len(rs)} responses")
        for r, s in zip(rs, sizes):
            check_payload(r.payload, s, "response")

    async def ping_pong(self):
        sizes = (31415, 9, 2653, 58979)
        payloads = (27182, 8, 1828, 45904)
        async with self.stub.FullDuplexCall.open(timeout=TIMEOUT) as stream:
            for s, p in zip(sizes, payloads):
                await stream.send_message(messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=s)], payload=payload(p)))
                r = await stream.recv_message()
                check(r is not None, "stream ended early")
                check_payload(r.payload, s, "response")
            await stream.end()
            check(await stream.recv_message() is None, "more responses than requests")
            await stream.recv_trailing_metadata()

    async def empty_stream(self):
        rs = await self.stub.FullDuplexCall([], timeout=TIMEOUT)
        check(rs == [], f"{len(rs)} responses")

    async def timeout_on_sleeping_server(self):
        async def call():
            async with self.stub.FullDuplexCall.open(timeout=0.001) as stream:
                await stream.send_message(messages_pb2.StreamingOutputCallRequest(payload=payload(27182)))
                await stream.recv_message()

        try:
            await call()
        except asyncio.TimeoutError:
            return  # grpclib reports its own deadline as a timeout
        except GRPCError as e:
            expect_status(e, Status.DEADLINE_EXCEEDED)
            return
        raise Failed("the call succeeded but should have timed out")

    async def _still_serving(self):
        r = await self.stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT)
        check(r == empty_pb2.Empty(), "call after the cancelled one failed")

    async def cancel_after_begin(self):
        async with self.stub.StreamingInputCall.open(timeout=TIMEOUT) as stream:
            await stream.send_request()
            await stream.cancel()
        await self._still_serving()

    async def cancel_after_first_response(self):
        async with self.stub.FullDuplexCall.open(timeout=TIMEOUT) as stream:
            await stream.send_message(messages_pb2.StreamingOutputCallRequest(
                response_parameters=[messages_pb2.ResponseParameters(size=31415)], payload=payload(27182)))
            r = await stream.recv_message()
            check_payload(r.payload, 31415, "response")
            await stream.cancel()
        await self._still_serving()

    async def custom_metadata(self):
        md = {common.ECHO_INITIAL: common.INITIAL_VALUE, common.ECHO_TRAILING: common.TRAILING_VALUE}

        def echoed(stream):
            initial = stream.initial_metadata.get(common.ECHO_INITIAL)
            check(initial == common.INITIAL_VALUE, f"initial metadata {stream.initial_metadata}")
            trailing = stream.trailing_metadata.get(common.ECHO_TRAILING)
            check(trailing == common.TRAILING_VALUE, f"trailing metadata {stream.trailing_metadata}")

        async with self.stub.UnaryCall.open(metadata=md, timeout=TIMEOUT) as stream:
            await stream.send_message(large_request(), end=True)
            r = await stream.recv_message()
            check_payload(r.payload, 314159, "response")
            await stream.recv_trailing_metadata()
            echoed(stream)
        async with self.stub.FullDuplexCall.open(metadata=md, timeout=TIMEOUT) as stream:
            await stream.send_message(messages_pb2.StreamingOutputCallRequest(
                response_parameters=[messages_pb2.ResponseParameters(size=314159)], payload=payload(271828)),
                end=True)
            r = await stream.recv_message()
            check_payload(r.payload, 314159, "response")
            check(await stream.recv_message() is None, "more than one response")
            await stream.recv_trailing_metadata()
            echoed(stream)

    async def _status(self, message, duplex):
        echo = messages_pb2.EchoStatus(code=2, message=message)

        def same(e):
            expect_status(e, Status.UNKNOWN)
            check(e.message == message, f"message {e.message!r}")

        same(await grpc_error(self.stub.UnaryCall(messages_pb2.SimpleRequest(response_status=echo),
                                                  timeout=TIMEOUT)))
        if duplex:
            req = messages_pb2.StreamingOutputCallRequest(response_status=echo)
            same(await grpc_error(self.stub.FullDuplexCall([req], timeout=TIMEOUT)))

    async def status_code_and_message(self):
        await self._status("test status message", True)

    async def special_status_message(self):
        await self._status(common.SPECIAL_MESSAGE, False)

    async def unimplemented_method(self):
        e = await grpc_error(self.stub.UnimplementedCall(empty_pb2.Empty(), timeout=TIMEOUT))
        expect_status(e, Status.UNIMPLEMENTED)

    async def unimplemented_service(self):
        e = await grpc_error(self.unimpl.UnimplementedCall(empty_pb2.Empty(), timeout=TIMEOUT))
        expect_status(e, Status.UNIMPLEMENTED)

    async def _unary(self, req, compress: bool = False):
        """UnaryCall: the response and whether it came compressed."""
        async with self.stub.UnaryCall.open(timeout=TIMEOUT) as call:
            if compress:
                grpclib_gzip.set_compression(call)
            await call.send_message(req, end=True)
            r = await call.recv_message()
            compressed = grpclib_gzip.came_compressed(call)
            await call.recv_trailing_metadata()
        return r, compressed

    async def client_compressed_unary(self):
        expecting = lambda value: large_request(expect_compressed=messages_pb2.BoolValue(value=value))  # noqa: E731
        # The probe: an uncompressed message that claims to be compressed
        # must be refused, or the server checks nothing.
        expect_status(await grpc_error(self._unary(expecting(True))), Status.INVALID_ARGUMENT, "probe")
        r, _ = await self._unary(expecting(True), compress=True)
        check_payload(r.payload, 314159, "compressed call")
        r, _ = await self._unary(expecting(False))
        check_payload(r.payload, 314159, "uncompressed call")

    async def server_compressed_unary(self):
        for compressed in (True, False):
            req = large_request(response_compressed=messages_pb2.BoolValue(value=compressed))
            r, came = await self._unary(req)
            check(came == compressed, f"response came compressed={came}")
            check_payload(r.payload, 314159, f"response (compressed={compressed})")

    async def client_compressed_streaming(self):
        def req(n, expect):
            return messages_pb2.StreamingInputCallRequest(
                payload=payload(n), expect_compressed=messages_pb2.BoolValue(value=expect))

        probe = self.stub.StreamingInputCall([req(27182, True)], timeout=TIMEOUT)
        expect_status(await grpc_error(probe), Status.INVALID_ARGUMENT, "probe")
        async with self.stub.StreamingInputCall.open(timeout=TIMEOUT) as call:
            grpclib_gzip.set_compression(call)
            await call.send_message(req(27182, True))
            grpclib_gzip.disable_next_message_compression(call)
            await call.send_message(req(45904, False), end=True)
            r = await call.recv_message()
            await call.recv_trailing_metadata()
        check(r.aggregated_payload_size == 73086, f"aggregated {r.aggregated_payload_size}")

    async def server_compressed_streaming(self):
        params = [messages_pb2.ResponseParameters(size=31415, compressed=messages_pb2.BoolValue(value=True)),
                  messages_pb2.ResponseParameters(size=92653, compressed=messages_pb2.BoolValue(value=False))]
        async with self.stub.StreamingOutputCall.open(timeout=TIMEOUT) as call:
            await call.send_message(messages_pb2.StreamingOutputCallRequest(response_parameters=params), end=True)
            rs = []
            while (r := await call.recv_message()) is not None:
                rs.append((r, grpclib_gzip.came_compressed(call)))
            await call.recv_trailing_metadata()
        check(len(rs) == 2, f"{len(rs)} responses")
        check(rs[0][1], "response 1 came uncompressed")
        check(not rs[1][1], "response 2 came compressed")
        check_payload(rs[0][0].payload, 31415, "response 1")
        check_payload(rs[1][0].payload, 92653, "response 2")


async def run_case(case: str) -> bool:
    # A channel per case, as separate client runs would have.
    channel = Channel(args.server_host, args.server_port)
    try:
        try:
            await getattr(Cases(channel), case)()
            error = None
        except Exception as e:  # noqa: BLE001  (reported below)
            error = e

        def outcome():
            if error is not None:
                raise error

        return common.report(case, outcome)
    finally:
        channel.close()


async def main() -> int:
    ok = True
    for case in common.cases_of(args.test_case):
        ok &= await run_case(case)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
