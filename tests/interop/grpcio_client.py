"""The interop client cases on grpcio (the C core), written by us per
grpc/grpc doc/interop-test-descriptions.md (grpcio's own interop client is
not published on PyPI).

    python tests/interop/grpcio_client.py --server_port=N --test_case=all

Prints `PASS <case>` or `FAIL <case>: <why>` per case; exits 0 unless a
case failed.

grpcio's Python API has no per-message compression switch and does not
say whether a response came compressed; the C core underneath does both,
and the cases reach it: client_compressed_streaming writes its second
message with the core's NO_COMPRESS flag (see there), and the
server_compressed_* cases read responses on a channel with
`grpc.per_message_decompression=0`, whose deserializer sees each message as
it came (`common.received`), so the compressed flag of every response is
checked.
"""

import queue
import sys

import common
from common import Failed, check

args = common.client_args()

import grpc  # noqa: E402
from grpc import _channel  # noqa: E402
from grpc._cython import cygrpc  # noqa: E402
from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

TIMEOUT = 20  # seconds, per call that is not about deadlines


def payload(size: int) -> messages_pb2.Payload:
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def check_payload(p, size: int, what: str) -> None:
    check(len(p.body) == size and not p.body.strip(b"\x00"),
          f"{what}: expected {size} zero bytes, got {len(p.body)}")


def expect_code(code, want, what="call") -> None:
    check(code == want, f"{what}: expected {want}, got {code}")


def large_request(**kw) -> messages_pb2.SimpleRequest:
    return messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828), **kw)


class Pipe:
    """A request iterator fed one message at a time (for ping-pong)."""

    _END = object()

    def __init__(self):
        self._q = queue.Queue()

    def add(self, m):
        self._q.put(m)

    def close(self):
        self._q.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        m = self._q.get()
        if m is self._END:
            raise StopIteration
        return m


def rpc_error(f, *a, **kw) -> grpc.RpcError:
    """Calls f expecting it to fail; returns the error."""
    try:
        f(*a, **kw)
    except grpc.RpcError as e:
        return e
    raise Failed("the call succeeded but should have failed")


class Cases:
    def __init__(self, channel, raw_channel):
        self.stub = test_pb2_grpc.TestServiceStub(channel)
        self.unimpl = test_pb2_grpc.UnimplementedServiceStub(channel)
        # Responses as they came, compressed or not (server_compressed_*).
        m = messages_pb2
        self.raw_unary = raw_channel.unary_unary(
            "/grpc.testing.TestService/UnaryCall",
            request_serializer=m.SimpleRequest.SerializeToString,
            response_deserializer=common.received(m.SimpleResponse))
        self.raw_streaming_output = raw_channel.unary_stream(
            "/grpc.testing.TestService/StreamingOutputCall",
            request_serializer=m.StreamingOutputCallRequest.SerializeToString,
            response_deserializer=common.received(m.StreamingOutputCallResponse))

    def empty_unary(self):
        r = self.stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT)
        check(r == empty_pb2.Empty(), "response is not empty")

    def large_unary(self):
        r = self.stub.UnaryCall(large_request(), timeout=TIMEOUT)
        check_payload(r.payload, 314159, "response")

    def client_streaming(self):
        reqs = [messages_pb2.StreamingInputCallRequest(payload=payload(n)) for n in (27182, 8, 1828, 45904)]
        r = self.stub.StreamingInputCall(iter(reqs), timeout=TIMEOUT)
        check(r.aggregated_payload_size == 74922, f"aggregated {r.aggregated_payload_size}")

    def server_streaming(self):
        sizes = (31415, 9, 2653, 58979)
        req = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
        rs = list(self.stub.StreamingOutputCall(req, timeout=TIMEOUT))
        check(len(rs) == len(sizes), f"{len(rs)} responses")
        for r, s in zip(rs, sizes):
            check_payload(r.payload, s, "response")

    def ping_pong(self):
        sizes = (31415, 9, 2653, 58979)
        payloads = (27182, 8, 1828, 45904)
        pipe = Pipe()
        responses = self.stub.FullDuplexCall(pipe, timeout=TIMEOUT)
        try:
            for s, p in zip(sizes, payloads):
                pipe.add(messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=s)], payload=payload(p)))
                check_payload(next(responses).payload, s, "response")
        finally:
            pipe.close()
        check(next(responses, None) is None, "more responses than requests")
        expect_code(responses.code(), grpc.StatusCode.OK)

    def empty_stream(self):
        rs = list(self.stub.FullDuplexCall(iter([]), timeout=TIMEOUT))
        check(rs == [], f"{len(rs)} responses")

    def timeout_on_sleeping_server(self):
        pipe = Pipe()
        responses = self.stub.FullDuplexCall(pipe, timeout=0.001)
        pipe.add(messages_pb2.StreamingOutputCallRequest(payload=payload(27182)))
        try:
            e = rpc_error(next, responses)
        finally:
            pipe.close()
        expect_code(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED)

    def cancel_after_begin(self):
        pipe = Pipe()
        future = self.stub.StreamingInputCall.future(pipe, timeout=TIMEOUT)
        future.cancel()
        pipe.close()
        check(future.cancelled(), "not cancelled")
        expect_code(future.code(), grpc.StatusCode.CANCELLED)

    def cancel_after_first_response(self):
        pipe = Pipe()
        responses = self.stub.FullDuplexCall(pipe, timeout=TIMEOUT)
        pipe.add(messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=31415)], payload=payload(27182)))
        check_payload(next(responses).payload, 31415, "response")
        responses.cancel()
        pipe.close()
        e = rpc_error(next, responses)
        expect_code(e.code(), grpc.StatusCode.CANCELLED)

    def custom_metadata(self):
        md = ((common.ECHO_INITIAL, common.INITIAL_VALUE), (common.ECHO_TRAILING, common.TRAILING_VALUE))

        def echoed(initial, trailing):
            check(dict(initial).get(common.ECHO_INITIAL) == common.INITIAL_VALUE, f"initial metadata {initial}")
            check(dict(trailing).get(common.ECHO_TRAILING) == common.TRAILING_VALUE, f"trailing metadata {trailing}")

        r, call = self.stub.UnaryCall.with_call(large_request(), metadata=md, timeout=TIMEOUT)
        check_payload(r.payload, 314159, "response")
        echoed(call.initial_metadata(), call.trailing_metadata())
        req = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=314159)], payload=payload(271828))
        responses = self.stub.FullDuplexCall(iter([req]), metadata=md, timeout=TIMEOUT)
        rs = list(responses)
        check(len(rs) == 1, f"{len(rs)} responses")
        check_payload(rs[0].payload, 314159, "response")
        echoed(responses.initial_metadata(), responses.trailing_metadata())

    def _status(self, message, duplex):
        echo = messages_pb2.EchoStatus(code=2, message=message)

        def same(e):
            expect_code(e.code(), grpc.StatusCode.UNKNOWN)
            check(e.details() == message, f"message {e.details()!r}")

        same(rpc_error(self.stub.UnaryCall, messages_pb2.SimpleRequest(response_status=echo), timeout=TIMEOUT))
        if duplex:
            req = messages_pb2.StreamingOutputCallRequest(response_status=echo)
            same(rpc_error(lambda: list(self.stub.FullDuplexCall(iter([req]), timeout=TIMEOUT))))

    def status_code_and_message(self):
        self._status("test status message", True)

    def special_status_message(self):
        self._status(common.SPECIAL_MESSAGE, False)

    def unimplemented_method(self):
        e = rpc_error(self.stub.UnimplementedCall, empty_pb2.Empty(), timeout=TIMEOUT)
        expect_code(e.code(), grpc.StatusCode.UNIMPLEMENTED)

    def unimplemented_service(self):
        e = rpc_error(self.unimpl.UnimplementedCall, empty_pb2.Empty(), timeout=TIMEOUT)
        expect_code(e.code(), grpc.StatusCode.UNIMPLEMENTED)

    def client_compressed_unary(self):
        probe = large_request(expect_compressed=messages_pb2.BoolValue(value=True))
        e = rpc_error(self.stub.UnaryCall, probe, timeout=TIMEOUT)
        expect_code(e.code(), grpc.StatusCode.INVALID_ARGUMENT, "probe")
        r = self.stub.UnaryCall(probe, compression=grpc.Compression.Gzip, timeout=TIMEOUT)
        check_payload(r.payload, 314159, "compressed call")
        plain = large_request(expect_compressed=messages_pb2.BoolValue(value=False))
        r = self.stub.UnaryCall(plain, timeout=TIMEOUT)
        check_payload(r.payload, 314159, "uncompressed call")

    def server_compressed_unary(self):
        for compressed in (True, False):
            req = large_request(response_compressed=messages_pb2.BoolValue(value=compressed))
            r = self.raw_unary(req, timeout=TIMEOUT)
            check(r.compressed == compressed, f"response came compressed={r.compressed}")
            check_payload(r.message.payload, 314159, f"response (compressed={compressed})")

    def client_compressed_streaming(self):
        def req(n, expect):
            return messages_pb2.StreamingInputCallRequest(
                payload=payload(n), expect_compressed=messages_pb2.BoolValue(value=expect))

        e = rpc_error(self.stub.StreamingInputCall, iter([req(27182, True)]), timeout=TIMEOUT)
        expect_code(e.code(), grpc.StatusCode.INVALID_ARGUMENT, "probe")
        def requests():
            yield req(27182, True)
            # The C core skips compressing a message written with its
            # NO_COMPRESS write flag (what C++'s WriteOptions::
            # set_no_compression sets); grpcio's Python API has no per-message
            # option, so the flags its request-consuming thread passes are
            # switched for this one message. This generator runs on that
            # thread, right before the write that reads the flags.
            _channel._EMPTY_FLAGS = cygrpc.WriteFlag.no_compress
            try:
                yield req(45904, False)
            finally:
                _channel._EMPTY_FLAGS = 0

        r = self.stub.StreamingInputCall(requests(), compression=grpc.Compression.Gzip, timeout=TIMEOUT)
        check(r.aggregated_payload_size == 73086, f"aggregated {r.aggregated_payload_size}")

    def server_compressed_streaming(self):
        params = [messages_pb2.ResponseParameters(size=31415, compressed=messages_pb2.BoolValue(value=True)),
                  messages_pb2.ResponseParameters(size=92653, compressed=messages_pb2.BoolValue(value=False))]
        rs = list(self.raw_streaming_output(
            messages_pb2.StreamingOutputCallRequest(response_parameters=params), timeout=TIMEOUT))
        check(len(rs) == 2, f"{len(rs)} responses")
        check(rs[0].compressed, "response 1 came uncompressed")
        check(not rs[1].compressed, "response 2 came compressed")
        check_payload(rs[0].message.payload, 31415, "response 1")
        check_payload(rs[1].message.payload, 92653, "response 2")


def main() -> int:
    ok = True
    for case in common.cases_of(args.test_case):
        # A channel per case, as separate client runs would have.
        target = f"{args.server_host}:{args.server_port}"
        raw_options = [("grpc.per_message_decompression", 0)]
        with grpc.insecure_channel(target) as channel, \
                grpc.insecure_channel(target, options=raw_options) as raw_channel:
            ok &= common.report(case, getattr(Cases(channel, raw_channel), case))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
