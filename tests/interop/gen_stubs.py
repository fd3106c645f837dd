"""Generates the Python interop stubs from our protos (examples/proto).

    python tests/interop/gen_stubs.py [OUT_DIR]

OUT_DIR defaults to target/interop-py. Writes the messages (`*_pb2.py`),
grpcio stubs (`*_pb2_grpc.py`) and grpclib stubs (`*_grpc.py`) under
OUT_DIR/grpc/testing/. Needs grpcio-tools and grpclib (its protoc plugin
`protoc-gen-grpclib_python` lives next to the interpreter).
"""

import os
import sys

from grpc_tools import protoc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTOS = ("empty.proto", "messages.proto", "test.proto")


def main() -> int:
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "interop-py"))
    os.makedirs(out, exist_ok=True)
    include = os.path.join(ROOT, "examples", "proto")
    plugin = os.path.join(os.path.dirname(sys.executable), "protoc-gen-grpclib_python")
    # grpc_tools ships google/protobuf/*.proto; our protos need none, but
    # protoc wants the include path to exist for well-known types anyway.
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{include}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-grpclib_python={plugin}",
        f"--grpclib_python_out={out}",
    ] + [os.path.join(include, "grpc", "testing", p) for p in PROTOS]
    rc = protoc.main(args)
    if rc != 0:
        print(f"gen_stubs: protoc failed ({rc})", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
