"""Records the bytes a peer's interop client and server exchange, one file
per test case, for `tests/replay.rs` to replay into our sans-IO core.

    target/interop-venv/bin/python tests/interop/record.py --peer grpcio --out tests/replay/grpcio
    target/interop-venv/bin/python tests/interop/record.py --peer grpclib --out tests/replay/grpclib

(`scripts/install-test-deps` makes the venv.) The peer's server
(`tests/interop/<peer>_server.py`) is started once; for each case a TCP
proxy on an ephemeral port sits between it and one run of the peer's
client (`<peer>_client.py --test_case=<case>`), and writes what it relays
to `<out>/<case>.txt`. Only cases the client reports as PASS over exactly
one connection are written; the others are listed and skipped. Where the
case races (timeout_on_sleeping_server's 1 ms deadline, cancel_after_begin)
the peers may behave differently from run to run; a case is run again, up
to 5 times, until its call reaches the server (else the last try is
kept), and the expectations in
tests/replay.rs may then need updating for a new recording.
`--cases a,b` records only those.

The proxy relays every byte unchanged except that it drops grpc's private
SETTINGS parameter 0xfe03 (true binary metadata, see TRUE_BINARY below)
from both sides' SETTINGS, which our core never advertises.

The recording format, one line per chunk as the proxy relayed it:

    # comment lines (peer, case)
    <dir> <ms> <data>

- `dir` is `c2s` (client to server) or `s2c`;
- `ms` the time since the connection was accepted, in milliseconds with
  three decimals;
- `data` the bytes in lowercase hex, except that a run of 16 or more equal
  bytes is written `[xx*count]` (the payloads of the cases are zeros), or
  the word `eof` when that side closed its half of the connection.

Recording takes 15 to 60 seconds per peer.
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The cases of common.py, without importing it (it imports grpcio).
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

RUN = 16  # shortest run of equal bytes written as [xx*count]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# grpc's private SETTINGS parameter GRPC_ALLOW_TRUE_BINARY_METADATA: when
# both grpc-core peers advertise it, `-bin` metadata travels as raw bytes
# (a NUL-prefixed HPACK value) instead of base64. Our endpoints never
# advertise it, so the proxy removes it from SETTINGS both ways: the peers
# then speak the standard protocol our core would get from them.
TRUE_BINARY = 0xFE03


class Settings:
    """Passes one direction's bytes through, rewriting SETTINGS frames to
    drop TRUE_BINARY. Holds back only an incomplete frame header or
    SETTINGS frame; everything else goes through as it comes."""

    def __init__(self, preface: bool):
        self.buf = b""
        self.preface = preface  # still to pass the client preface
        self.skip = 0  # payload bytes of the current frame still to pass
        self.headers = False  # a HEADERS frame went through

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = []
        while self.buf:
            if self.preface:
                if len(self.buf) < len(PREFACE):
                    break
                out.append(self.buf[:len(PREFACE)])
                self.buf = self.buf[len(PREFACE):]
                self.preface = False
            elif self.skip:
                n = min(self.skip, len(self.buf))
                out.append(self.buf[:n])
                self.buf = self.buf[n:]
                self.skip -= n
            elif len(self.buf) < 9:
                break
            else:
                length = int.from_bytes(self.buf[:3], "big")
                self.headers |= self.buf[3] == 1
                if self.buf[3] != 4:  # not SETTINGS
                    out.append(self.buf[:9])
                    self.buf = self.buf[9:]
                    self.skip = length
                    continue
                if len(self.buf) < 9 + length:
                    break
                payload = self.buf[9:9 + length]
                kept = b"".join(payload[i:i + 6] for i in range(0, length, 6)
                                if int.from_bytes(payload[i:i + 2], "big") != TRUE_BINARY)
                out.append(len(kept).to_bytes(3, "big") + self.buf[3:9] + kept)
                self.buf = self.buf[9 + length:]
        return b"".join(out)


def encode(data: bytes) -> str:
    """Hex, with runs of RUN or more equal bytes as [xx*count]."""
    out = []
    i = 0
    n = len(data)
    while i < n:
        j = i
        while j < n and data[j] == data[i]:
            j += 1
        if j - i >= RUN:
            out.append(f"[{data[i]:02x}*{j - i}]")
        else:
            out.append(data[i:j].hex())
        i = j
    return "".join(out)


class Connection:
    """One proxied connection: relays both ways and records each chunk."""

    def __init__(self, client: socket.socket, upstream_port: int):
        self.client = client
        self.server = socket.create_connection(("127.0.0.1", upstream_port))
        for s in (self.client, self.server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.chunks = []  # (dir, ms, bytes or None for eof)
        self.requests = Settings(preface=True)  # the c2s rewriter
        self.threads = [
            threading.Thread(target=self.pump, args=("c2s", self.client, self.server), daemon=True),
            threading.Thread(target=self.pump, args=("s2c", self.server, self.client), daemon=True),
        ]
        for t in self.threads:
            t.start()

    def pump(self, direction: str, src: socket.socket, dst: socket.socket) -> None:
        settings = self.requests if direction == "c2s" else Settings(preface=False)
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if data:
                data = settings.feed(data)
                if not data:
                    continue
            with self.lock:
                ms = (time.monotonic() - self.start) * 1000
                self.chunks.append((direction, ms, data or None))
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def wait(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        for s in (self.client, self.server):
            s.close()

    def text(self, peer: str, case: str) -> str:
        lines = [
            f"# {peer} client <-> {peer} server, interop case {case}",
            "# re-record: see tests/interop/record.py; replayed by tests/replay.rs",
        ]
        with self.lock:
            for direction, ms, data in self.chunks:
                lines.append(f"{direction} {ms:.3f} {'eof' if data is None else encode(data)}")
        return "\n".join(lines) + "\n"


class Proxy:
    """Listens on an ephemeral port; every accepted connection is relayed
    to the upstream port and recorded."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.connections = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(Connection(s, self.upstream_port))

    def close(self) -> None:
        self.listener.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", choices=("grpcio", "grpclib"), required=True)
    p.add_argument("--out", required=True, help="directory for <case>.txt")
    p.add_argument("--cases", default="all", help="comma-separated, or all")
    p.add_argument("--python", default=None, help="the venv's python (default: target/interop-venv)")
    p.add_argument("--stubs", default=os.path.join(ROOT, "target", "interop-py"))
    a = p.parse_args()
    python = a.python or os.path.join(ROOT, "target", "interop-venv", "bin", "python")
    if not os.path.exists(python):
        python = sys.executable
    cases = CASES if a.cases == "all" else a.cases.split(",")
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(a.out, exist_ok=True)

    subprocess.run([python, os.path.join(here, "gen_stubs.py"), a.stubs], check=True)
    server = subprocess.Popen(
        [python, os.path.join(here, f"{a.peer}_server.py"), "--port=0", f"--stubs={a.stubs}"],
        stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("LISTENING "):
            sys.exit(f"{a.peer} server said {line!r}")
        upstream = int(line.split()[1])
        written, skipped = [], []
        for case in cases:
            # Some cases race (a 1 ms deadline, a cancel right after the
            # start): try again, up to 5 times, while no call reached the
            # server, so that the recording shows the call.
            for _ in range(5):
                proxy = Proxy(upstream)
                out = subprocess.run(
                    [python, os.path.join(here, f"{a.peer}_client.py"), "--server_host=127.0.0.1",
                     f"--server_port={proxy.port}", f"--test_case={case}", f"--stubs={a.stubs}"],
                    capture_output=True, text=True, timeout=120)
                proxy.close()
                for c in proxy.connections:
                    c.wait(10)
                if any(c.requests.headers for c in proxy.connections):
                    break
            verdict = out.stdout.strip().splitlines()[-1:] or [f"no verdict: {out.stderr.strip()}"]
            if not verdict[0].startswith("PASS") or len(proxy.connections) != 1:
                skipped.append(f"{case}: {verdict[0]} ({len(proxy.connections)} connections)")
                continue
            text = proxy.connections[0].text(a.peer, case)
            with open(os.path.join(a.out, f"{case}.txt"), "w") as f:
                f.write(text)
            written.append(f"{case} ({len(text)} bytes)")
        print("recorded:", ", ".join(written))
        for s in skipped:
            print("skipped", s)
    finally:
        server.kill()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
