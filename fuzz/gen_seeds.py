#!/usr/bin/env python3
"""Writes the small seed corpora in corpus/<target>/seed-*.

Each seed follows the layout of src/lib.rs: one options byte, an 8-byte
seed for the chunking generator, then wire bytes. HPACK blocks are written
by hand from the static table (RFC 7541 Appendix A) so this script needs
nothing but the standard library. Run it from anywhere; it rewrites the
seeds in place.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIO = 0x20


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def lit(name, value):
    """Literal with incremental indexing, new name (RFC 7541 6.2.1)."""
    return b"\x40" + bytes([len(name)]) + name + bytes([len(value)]) + value


def lit_idx(index, value):
    """Literal with incremental indexing, indexed name (index < 63)."""
    return bytes([0x40 | index]) + bytes([len(value)]) + value


GET = b"\x82\x86\x84" + lit_idx(1, b"localhost")
POST = b"\x83\x86" + lit_idx(4, b"/grpc.testing.TestService/UnaryCall") + \
    lit_idx(1, b"localhost:50051") + lit_idx(31, b"application/grpc") + \
    lit(b"te", b"trailers") + lit(b"grpc-timeout", b"1S")
# The same request again: every field is now in the dynamic table.
POST_AGAIN = b"\x83\x86" + bytes([0x80 | i for i in (66, 65, 64, 63, 62)])
# RFC 7541 C.4.1: Huffman-coded literal.
HUFFMAN = bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff")
SIZE_UPDATE = b"\x3f\xe1\x1f"  # dynamic table size update to 4096
STATUS_200 = b"\x88" + lit_idx(31, b"application/grpc")
TRAILERS = lit(b"grpc-status", b"0") + lit(b"grpc-message", b"")

GRPC_MSG = b"\x00\x00\x00\x00\x05hello"
SETTINGS_FRAME = frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100) +
                       struct.pack(">HI", 4, 65535))
SETTINGS_ACK = frame(SETTINGS, ACK, 0)


def seed(options, rng, payload):
    return bytes([options]) + struct.pack("<Q", rng) + payload


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    get = frame(SETTINGS, 0, 0) + SETTINGS_ACK + \
        frame(HEADERS, END_STREAM | END_HEADERS, 1, GET)
    post = SETTINGS_FRAME + SETTINGS_ACK + \
        frame(HEADERS, END_HEADERS, 1, POST) + \
        frame(DATA, END_STREAM, 1, GRPC_MSG) + \
        frame(HEADERS, END_HEADERS | END_STREAM, 3, POST_AGAIN) + \
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20)) + \
        frame(PING, 0, 0, b"pingpong")
    continuation = frame(SETTINGS, 0, 0) + \
        frame(HEADERS, END_STREAM | PRIO, 1, b"\x00\x00\x00\x00\x10" + POST[:9]) + \
        frame(CONTINUATION, END_HEADERS, 1, POST[9:])
    padded = frame(SETTINGS, 0, 0) + \
        frame(HEADERS, END_HEADERS | PADDED, 1, b"\x03" + POST + b"\0\0\0") + \
        frame(DATA, PADDED, 1, b"\x02" + GRPC_MSG + b"\0\0") + \
        frame(RST_STREAM, 0, 1, struct.pack(">I", 8)) + \
        frame(PRIORITY, 0, 5, struct.pack(">IB", 1, 16)) + \
        frame(0xff, 0, 0, b"unknown") + \
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0) + b"bye")

    # frame_decoder: bit 0 expect the preface, bit 1 prepend it.
    write("frame_decoder", "preface-get", seed(0b11, 1, get))
    write("frame_decoder", "raw-preface", seed(0b01, 2, PREFACE + post))
    write("frame_decoder", "post", seed(0, 3, post))
    write("frame_decoder", "padded-small-max", seed(0b0100, 4, padded))
    write("frame_decoder", "continuation", seed(0, 0, continuation))

    # hpack_decoder: bit 2 one block.
    write("hpack_decoder", "get", seed(0b100, 0, GET))
    write("hpack_decoder", "post", seed(0b100, 0, POST))
    write("hpack_decoder", "huffman", seed(0b100, 0, HUFFMAN))
    write("hpack_decoder", "size-update", seed(0b100, 0, SIZE_UPDATE + GET))
    write("hpack_decoder", "blocks-small-table", seed(0b001, 7, POST + POST_AGAIN))
    write("hpack_decoder", "response", seed(0b100, 0, STATUS_200 + TRAILERS))

    # server_connection: the preface is prepended unless bit 3.
    write("server_connection", "get", seed(0, 1, get))
    write("server_connection", "post", seed(0, 2, post))
    write("server_connection", "continuation", seed(0, 3, continuation))
    write("server_connection", "padded-small-config", seed(0b100, 4, padded))
    write("server_connection", "slow-reader", seed(0b1, 5, post))
    write("server_connection", "own-preface", seed(0b1000, 6, PREFACE + get))

    # client_connection: the server's side.
    response = SETTINGS_FRAME + SETTINGS_ACK + \
        frame(HEADERS, END_HEADERS, 1, STATUS_200) + \
        frame(DATA, 0, 1, GRPC_MSG) + \
        frame(HEADERS, END_HEADERS | END_STREAM, 1, TRAILERS) + \
        frame(HEADERS, END_HEADERS, 3, STATUS_200) + \
        frame(WINDOW_UPDATE, 0, 3, struct.pack(">I", 100)) + \
        frame(PING, ACK, 0, b"fuzzping")
    refused = frame(SETTINGS, 0, 0) + \
        frame(RST_STREAM, 0, 3, struct.pack(">I", 7)) + \
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)) + \
        frame(HEADERS, END_STREAM | END_HEADERS, 1, STATUS_200 + TRAILERS)
    push = frame(SETTINGS, 0, 0) + \
        frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + GET)
    write("client_connection", "response", seed(0, 1, response))
    write("client_connection", "refused", seed(0, 2, refused))
    write("client_connection", "push", seed(0, 3, push))
    write("client_connection", "third-stream", seed(0b100, 4, response))

    # grpc_server: the preface is always prepended.
    write("grpc_server", "unary", seed(0, 1, post))
    write("grpc_server", "small-limits", seed(0b010, 2, post))
    write("grpc_server", "gzip-responses", seed(0b100, 3, post + padded))
    compressed = SETTINGS_FRAME + frame(HEADERS, END_HEADERS, 1, POST + lit(b"grpc-encoding", b"gzip")) + \
        frame(DATA, END_STREAM, 1, b"\x01" + struct.pack(">I", 25) +
              bytes.fromhex("1f8b08000000000002ffcb48cdc9c90700863ba6360500000000"[:50]))
    write("grpc_server", "compressed", seed(0, 4, compressed))

    # grpc_client: the server's side; calls are on streams 1, 3, 5.
    grpc_response = response + \
        frame(HEADERS, END_HEADERS | END_STREAM, 5, STATUS_200 + TRAILERS)
    write("grpc_client", "response", seed(0, 1, grpc_response))
    write("grpc_client", "refused", seed(0b100, 2, refused))
    write("grpc_client", "small-limits", seed(0b001, 3, grpc_response))

    # deframer: plain message bytes.
    write("deframer", "messages", seed(0, 1, GRPC_MSG * 3 + b"\x01\x00\x00\x00\x00"))
    write("deframer", "large-prefix", seed(0, 2, b"\x00\xff\xff\xff\xff" + GRPC_MSG))


if __name__ == "__main__":
    main()
