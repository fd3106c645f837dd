#!/usr/bin/env python3
"""An independent HTTP/2 client (python-hyper's h2) for tests/interop_h2.rs.

Usage: h2_interop_client.py PORT

Over one raw socket (h2c, prior knowledge) it sends GET and POST requests on
several concurrent streams, checks each 200 status and the exact body the
test server answers with ("<METHOD> <PATH> <N> bytes\n", N the request body
length), sends a PING and checks its ACK, then closes with GOAWAY, half
closes the socket and expects the server to close its side.
Prints "interop-ok: ..." and exits 0 on success; exits 1 with a reason
otherwise.
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events

TIMEOUT = 10.0
PING = b"sansio!!"


def fail(msg):
    print(f"interop-fail: {msg}", flush=True)
    sys.exit(1)


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()

    # stream id -> [expected body, status, body so far, ended]
    streams = {}
    requests = [("GET", "/py/0", b""), ("GET", "/py/1", b""),
                ("POST", "/py/upload", b"x" * 40_000),
                ("POST", "/py/small", b"hello"), ("GET", "/py/4", b"")]
    for method, path, body in requests:
        sid = conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "http"), (":path", path),
                   (":authority", f"127.0.0.1:{port}"),
                   ("user-agent", "python-h2-interop")]
        conn.send_headers(sid, headers, end_stream=not body)
        if body:
            # Within the initial 64 KiB windows, in frames of at most
            # the peer's SETTINGS_MAX_FRAME_SIZE.
            step = conn.max_outbound_frame_size
            for i in range(0, len(body), step):
                conn.send_data(sid, body[i:i + step],
                               end_stream=i + step >= len(body))
        expected = f"{method} {path} {len(body)} bytes\n".encode()
        streams[sid] = [expected, None, b"", False]
    conn.ping(PING)
    sock.sendall(conn.data_to_send())

    ping_acked = False
    while not (ping_acked and all(s[3] for s in streams.values())):
        try:
            data = sock.recv(65536)
        except socket.timeout:
            fail(f"timed out; streams: {streams}, ping acked: {ping_acked}")
        if not data:
            fail(f"server closed the connection early; streams: {streams}")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers).get(b":status")
                streams[ev.stream_id][1] = status
            elif isinstance(ev, h2.events.DataReceived):
                streams[ev.stream_id][2] += ev.data
                conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                streams[ev.stream_id][3] = True
            elif isinstance(ev, h2.events.PingAckReceived):
                if ev.ping_data != PING:
                    fail(f"PING ACK with payload {ev.ping_data!r}")
                ping_acked = True
            elif isinstance(ev, h2.events.StreamReset):
                fail(f"stream {ev.stream_id} reset with {ev.error_code!r}")
            elif isinstance(ev, h2.events.ConnectionTerminated):
                fail(f"server sent GOAWAY {ev.error_code!r} "
                     f"({ev.additional_data!r})")
        sock.sendall(conn.data_to_send())

    for sid, (expected, status, body, _) in sorted(streams.items()):
        if status != b"200":
            fail(f"stream {sid}: status {status!r}")
        if body != expected:
            fail(f"stream {sid}: body {body!r}, expected {expected!r}")

    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.shutdown(socket.SHUT_WR)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        fail("server did not close after GOAWAY and end of input")
    sock.close()
    print(f"interop-ok: {len(streams)} streams, ping acked, goaway sent",
          flush=True)


if __name__ == "__main__":
    main()
