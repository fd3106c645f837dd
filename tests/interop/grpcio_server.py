"""An interop TestService server on grpcio (the C core), written by us per
grpc/grpc doc/interop-test-descriptions.md.

    python tests/interop/grpcio_server.py --port=0

Prints `LISTENING <port>` once serving; runs until killed.

What grpcio's Python API cannot do: see whether a request message came
compressed (neither the message flag nor the call's grpc-encoding reach
the servicer), so `expect_compressed` cannot be checked; the
client_compressed_* cases are therefore not applicable against this server.
"""

import time
from concurrent import futures

import common

args = common.server_args()

import grpc  # noqa: E402
from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402


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

    def UnaryCall(self, request, context):
        echo_metadata(context)
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
        total = sum(len(r.payload.body) for r in request_iterator)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        yield from stream_responses(request_iterator, context)

    def HalfDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        yield from stream_responses(list(request_iterator), context)

    # UnimplementedCall is left to the generated base class: UNIMPLEMENTED.


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    common.announce(port)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
