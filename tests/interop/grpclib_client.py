"""The interop client cases on grpclib (pure-Python asyncio HTTP/2 and
gRPC), written by us per grpc/grpc doc/interop-test-descriptions.md.

    python tests/interop/grpclib_client.py --server_port=N --test_case=all

Prints `PASS <case>`, `FAIL <case>: <why>` or `NA <case>: <why>` per case;
exits 0 unless a case failed.

What grpclib cannot do:
- compression of any kind (it sends no grpc-accept-encoding, compresses
  nothing and fails on a compressed message): the four compression cases
  report NA;
- report a status for a call it cancelled itself (cancel() resets the
  stream and the call has no status on the client side): the cancel cases
  check instead that the reset goes through and that the connection still
  serves a call afterwards.
"""

import asyncio
import sys

import common
from common import Failed, Skip, check

args = common.client_args()

from grpclib.client import Channel  # noqa: E402
from grpclib.const import Status  # noqa: E402
from grpclib.exceptions import GRPCError  # noqa: E402

from grpc.testing import empty_pb2, messages_pb2, test_grpc  # noqa: E402

TIMEOUT = 20  # seconds, per call that is not about deadlines
NO_COMPRESSION = "grpclib implements no compression"


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

    async def client_compressed_unary(self):
        raise Skip(NO_COMPRESSION)

    async def server_compressed_unary(self):
        raise Skip(NO_COMPRESSION)

    async def client_compressed_streaming(self):
        raise Skip(NO_COMPRESSION)

    async def server_compressed_streaming(self):
        raise Skip(NO_COMPRESSION)


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
