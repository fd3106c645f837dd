"""An interop TestService server on grpcio (the C core), written by us per
grpc/grpc doc/interop-test-descriptions.md.

    python tests/interop/grpcio_server.py --port=0

Prints `LISTENING <port>` once serving; runs until killed.

grpcio's servicer API does not say whether a request message came
compressed, which `expect_compressed` needs. The C core's channel argument
`grpc.per_message_decompression=0` leaves compressed messages compressed,
so the deserializers here see the message bytes as they came: a gzip member
(magic 1f 8b) was compressed and is inflated here, anything else was not.
The check is exact: no protobuf message starts with 0x1f, whose wire type 7
does not exist. Compressed messages of every method are inflated this way,
within a bound.
"""

import time
from concurrent import futures

import common

args = common.server_args()

import grpc  # noqa: E402
from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402


received, plain = common.received, common.plain


def compression_mismatch(expect, compressed: bool, context) -> bool:
    """Ends the call with INVALID_ARGUMENT when `expect_compressed` is set and
    does not match how the request came; True if it did."""
    if expect.value == compressed:
        return False
    context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
    context.set_details(f"expected compressed={expect.value}, got compressed={compressed}")
    return True


def payload(size: int) -> messages_pb2.Payload:
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def echo_metadata(context) -> None:
    """Echoes the test's initial metadata in the response headers and its
    binary trailing metadata in the trailers."""
    md = dict(context.invocation_metadata())
    if common.ECHO_INITIAL in md:
        context.send_initial_metadata(((common.ECHO_INITIAL, md[common.ECHO_INITIAL]),))
    if common.ECHO_TRAILING in md:
        context.set_trailing_metadata(((common.ECHO_TRAILING, md[common.ECHO_TRAILING]),))


def echo_status(status, context) -> bool:
    """Ends the call with the requested status, if any; True if it did."""
    if status.code == 0:
        return False
    context.set_code(grpc.StatusCode(_codes[status.code]))
    context.set_details(status.message)
    return True


_codes = {c.value[0]: c.value for c in grpc.StatusCode}


def stream_responses(requests, context):
    """The responses a sequence of StreamingOutputCallRequests ask for, each
    compressed or not as asked."""
    context.set_compression(grpc.Compression.Gzip)
    for req in requests:
        for p in req.response_parameters:
            if p.interval_us:
                time.sleep(p.interval_us / 1e6)
            if not p.compressed.value:
                context.disable_next_message_compression()
            yield messages_pb2.StreamingOutputCallResponse(payload=payload(p.size))
        if echo_status(req.response_status, context):
            return


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, received, context):
        echo_metadata(context)
        request = received.message
        if request.HasField("expect_compressed") and compression_mismatch(
            request.expect_compressed, received.compressed, context
        ):
            return messages_pb2.SimpleResponse()
        if echo_status(request.response_status, context):
            return messages_pb2.SimpleResponse()
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        return messages_pb2.SimpleResponse(payload=payload(request.response_size))

    CacheableUnaryCall = UnaryCall

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        yield from stream_responses([request], context)

    def StreamingInputCall(self, request_iterator, context):
        echo_metadata(context)
        total = 0
        for r in request_iterator:
            req = r.message
            if req.HasField("expect_compressed") and compression_mismatch(
                req.expect_compressed, r.compressed, context
            ):
                return messages_pb2.StreamingInputCallResponse()
            total += len(req.payload.body)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        yield from stream_responses(request_iterator, context)

    def HalfDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        yield from stream_responses(list(request_iterator), context)

    # UnimplementedCall is left to the generated base class: UNIMPLEMENTED.


def handlers(s: TestService):
    """The generated handler table, but with deserializers that see whether
    each message came compressed."""
    m, e = messages_pb2, empty_pb2
    uu, us = grpc.unary_unary_rpc_method_handler, grpc.unary_stream_rpc_method_handler
    su, ss = grpc.stream_unary_rpc_method_handler, grpc.stream_stream_rpc_method_handler
    out = lambda cls: cls.SerializeToString  # noqa: E731
    table = {
        "EmptyCall": uu(s.EmptyCall, plain(e.Empty), out(e.Empty)),
        "UnaryCall": uu(s.UnaryCall, received(m.SimpleRequest), out(m.SimpleResponse)),
        "CacheableUnaryCall": uu(s.CacheableUnaryCall, received(m.SimpleRequest), out(m.SimpleResponse)),
        "StreamingOutputCall": us(s.StreamingOutputCall, plain(m.StreamingOutputCallRequest),
                                  out(m.StreamingOutputCallResponse)),
        "StreamingInputCall": su(s.StreamingInputCall, received(m.StreamingInputCallRequest),
                                 out(m.StreamingInputCallResponse)),
        "FullDuplexCall": ss(s.FullDuplexCall, plain(m.StreamingOutputCallRequest),
                             out(m.StreamingOutputCallResponse)),
        "HalfDuplexCall": ss(s.HalfDuplexCall, plain(m.StreamingOutputCallRequest),
                             out(m.StreamingOutputCallResponse)),
        "UnimplementedCall": uu(s.UnimplementedCall, plain(e.Empty), out(e.Empty)),
    }
    return grpc.method_handlers_generic_handler("grpc.testing.TestService", table)


def main() -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        # Compressed requests reach the deserializers as they came (see above).
        options=[("grpc.per_message_decompression", 0)],
    )
    server.add_generic_rpc_handlers((handlers(TestService()),))
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    common.announce(port)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
