"""grpcio's own health server (grpc_health.v1.health.HealthServicer on a
grpcio server), for our health client and probe to talk to:
tests/interop_services.rs runs it.

    health_server.py

Listens on an ephemeral loopback port with "" and "shop.Cart" SERVING, and
prints "port N". Then reads commands from stdin, one per line:
  set NAME STATUS     sets NAME's status (SERVING, NOT_SERVING, ...),
                      answers "set NAME STATUS" once done
End of stdin stops the server.
"""

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def say(line):
    print(line, flush=True)


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    Status = health_pb2.HealthCheckResponse.ServingStatus
    servicer.set("", Status.Value("SERVING"))
    servicer.set("shop.Cart", Status.Value("SERVING"))
    server.start()
    say(f"port {port}")
    for line in sys.stdin:
        words = line.split()
        if len(words) == 3 and words[0] == "set":
            servicer.set(words[1], Status.Value(words[2]))
            say(f"set {words[1]} {words[2]}")
        elif words:
            print(f"unknown command {line!r}", file=sys.stderr, flush=True)
    server.stop(0).wait()


if __name__ == "__main__":
    main()
