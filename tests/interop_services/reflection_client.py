"""grpcio's reflection client (PyPI grpcio-reflection) against a server
with reflection: tests/interop_services.rs runs it against ours.

    reflection_client.py PORT

1. grpc.reflection.v1alpha through grpcio-reflection's
   ProtoReflectionDescriptorDatabase under a protobuf DescriptorPool, as
   grpcurl-like tools do: lists the services, then resolves
   grpc.health.v1.Health.Watch fully (its file, its dependencies, its
   request and response messages with their fields and enum).
2. grpc.reflection.v1 and v1alpha, raw, on one stream each: list_services,
   file_by_filename of a file the server does not have (an error_response
   NOT_FOUND, the stream going on), file_containing_symbol.
   grpcio-reflection 1.85 ships no v1 stubs; v1 and v1alpha messages are
   the same on the wire, so the v1alpha classes serve on the v1 path.

Prints one line per result, then "done". Any failure raises.
"""

import sys

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

TIMEOUT = 10
TYPE_NAMES = {
    v: k[len("TYPE_"):].lower()
    for k, v in descriptor_pb2.FieldDescriptorProto.Type.items()
}


def say(line):
    print(line, flush=True)


def field(f):
    kind = TYPE_NAMES[f.type]
    if f.message_type is not None:
        kind += f"({f.message_type.full_name})"
    if f.enum_type is not None:
        kind += f"({f.enum_type.full_name})"
    return f"{f.name}={f.number}:{kind}"


def via_descriptor_pool(channel):
    db = ProtoReflectionDescriptorDatabase(channel)
    say("services " + ",".join(sorted(db.get_services())))
    pool = DescriptorPool(db)
    m = pool.FindMethodByName("grpc.health.v1.Health.Watch")
    say(
        f"method {m.full_name} {m.input_type.full_name} -> {m.output_type.full_name}"
        f" server_streaming={m.server_streaming} file={m.containing_service.file.name}"
    )
    for msg in (m.input_type, m.output_type):
        say(f"message {msg.full_name} " + ",".join(field(f) for f in msg.fields))
    enum = pool.FindEnumTypeByName("grpc.health.v1.HealthCheckResponse.ServingStatus")
    say(f"enum {enum.full_name} " + ",".join(v.name for v in enum.values))
    s = pool.FindServiceByName("grpc.reflection.v1.ServerReflection")
    say(f"service {s.full_name} " + ",".join(m.name for m in s.methods))
    # A method whose input type lives in a dependency of its file.
    m = pool.FindMethodByName("ecommerce.OrderManagement.getOrder")
    say(
        f"method {m.full_name} {m.input_type.full_name} -> {m.output_type.full_name}"
        f" server_streaming={m.server_streaming} file={m.containing_service.file.name}"
    )
    say(f"message {m.input_type.full_name} " + ",".join(field(f) for f in m.input_type.fields))
    say(f"message-file {m.input_type.full_name} {m.input_type.file.name}")
    say(f"message {m.output_type.full_name} " + ",".join(field(f) for f in m.output_type.fields))


def raw(channel, version):
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    R = reflection_pb2.ServerReflectionRequest
    requests = [
        R(list_services=""),
        R(file_by_filename="no/such/file.proto"),
        R(file_containing_symbol="grpc.health.v1.Health.Check"),
    ]
    responses = list(call(iter(requests), timeout=TIMEOUT))
    if len(responses) != 3:
        raise SystemExit(f"{version}: {len(responses)} responses to 3 requests")
    listed, missing, found = responses
    names = sorted(s.name for s in listed.list_services_response.service)
    say(f"{version} list " + ",".join(names))
    which = missing.WhichOneof("message_response")
    code = grpc.StatusCode.NOT_FOUND.value[0]
    if which != "error_response" or missing.error_response.error_code != code:
        raise SystemExit(f"{version}: unknown file answered {missing}")
    say(f"{version} unknown-file NOT_FOUND")
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in found.file_descriptor_response.file_descriptor_proto
    ]
    say(f"{version} symbol-file " + ",".join(f.name for f in files))


def main():
    port = sys.argv[1]
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        via_descriptor_pool(channel)
        raw(channel, "v1")
        raw(channel, "v1alpha")
    say("done")


if __name__ == "__main__":
    main()
