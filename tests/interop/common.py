"""What the Python interop peers share: finding the generated stubs,
command-line flags, the case list, payloads and reporting.

The stubs (tests/interop/gen_stubs.py) live in `<stubs>/grpc/testing/`, and
their module names are `grpc.testing.*` because the protos' package is
`grpc.testing`. `grpc` is also grpcio's package, so the stub directory is
added to `grpc.__path__` to make `grpc.testing` importable next to it.
"""

import argparse
import os
import sys
import zlib

import grpc  # noqa: F401  (grpcio; its __path__ is extended below)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CASES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
]

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
INITIAL_VALUE = "test_initial_metadata_value"
TRAILING_VALUE = b"\xab\xab\xab"
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"


def use_stubs(stubs: str) -> None:
    """Makes `grpc.testing.*_pb2` and friends importable from `stubs`."""
    grpc.__path__.append(os.path.join(os.path.abspath(stubs), "grpc"))


class Failed(Exception):
    """The case failed; the reason says how."""


def check(cond: bool, why: str) -> None:
    if not cond:
        raise Failed(why)


# Bound on an inflated message, as the C core's default receive limit.
MAX_INFLATED = 4 * 1024 * 1024


class Received:
    """A message and whether it came compressed."""

    def __init__(self, message, compressed: bool):
        self.message = message
        self.compressed = compressed


def inflate(data: bytes) -> bytes:
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = d.decompress(data, MAX_INFLATED + 1)
    if len(out) > MAX_INFLATED or d.unconsumed_tail or not d.eof:
        raise ValueError("bad or oversized gzip message")
    return out


def received(cls):
    """A deserializer for grpcio with `grpc.per_message_decompression=0`,
    which hands compressed messages over as they came: yields
    `Received(cls message, came compressed)`. A gzip member (magic 1f 8b)
    came compressed and is inflated; anything else did not. Exact: no
    protobuf message starts with 0x1f, whose wire type 7 does not exist."""

    def deserialize(data: bytes) -> Received:
        if data[:2] == b"\x1f\x8b":
            return Received(cls.FromString(inflate(data)), True)
        return Received(cls.FromString(data), False)

    return deserialize


def plain(cls):
    """Like `received`, but yields just the message."""
    d = received(cls)
    return lambda data: d(data).message


def client_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--server_host", default="localhost")
    p.add_argument("--server_port", type=int, default=10000)
    p.add_argument("--test_case", default="large_unary")
    p.add_argument("--use_tls", default="false")
    p.add_argument("--stubs", default=os.path.join(ROOT, "target", "interop-py"))
    a = p.parse_args()
    if a.use_tls != "false":
        sys.exit("only --use_tls=false is supported")
    use_stubs(a.stubs)
    return a


def server_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=10000, help="0: any free port")
    p.add_argument("--use_tls", default="false")
    p.add_argument("--stubs", default=os.path.join(ROOT, "target", "interop-py"))
    a = p.parse_args()
    if a.use_tls != "false":
        sys.exit("only --use_tls=false is supported")
    use_stubs(a.stubs)
    return a


def announce(port: int) -> None:
    """Tells whoever started the server where it listens (first stdout line)."""
    print(f"LISTENING {port}", flush=True)


def cases_of(name: str) -> list:
    if name == "all":
        return list(CASES)
    if name not in CASES:
        sys.exit(f"unknown test case {name}")
    return [name]


def report(case: str, run) -> bool:
    """Runs `run()`, prints PASS / FAIL for `case`; False on FAIL."""
    try:
        run()
    except Failed as e:
        print(f"FAIL {case}: {e}", flush=True)
        return False
    except Exception as e:  # noqa: BLE001  (any error fails the case)
        print(f"FAIL {case}: {type(e).__name__}: {e}", flush=True)
        return False
    print(f"PASS {case}", flush=True)
    return True
