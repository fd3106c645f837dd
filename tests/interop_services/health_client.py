"""grpcio's health-checking client (PyPI grpcio-health-checking) against a
health server: tests/interop_services.rs runs it against ours.

    health_client.py PORT WATCHED

Prints one line per result, flushed, for the Rust test to read:
  check-server SERVING          Check("")
  check-unknown NOT_FOUND       Check("no.such.Service") ended with NOT_FOUND
  watch WATCHED SERVING         the first message of Watch(WATCHED)
  ... then waits for the server to change WATCHED's status (the Rust test
  does so after reading the line above) ...
  watch WATCHED NOT_SERVING     the next message
  watch-unknown SERVICE_UNKNOWN the first message of Watch("no.such.Service")
  done
Any failure raises (non-zero exit, traceback on stderr).
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT = 10
UNKNOWN = "no.such.Service"


def name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def say(line):
    print(line, flush=True)


def main():
    port, watched = sys.argv[1], sys.argv[2]
    # No proxy for a loopback peer, whatever the environment says.
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        say(f"check-server {name(r.status)}")

        try:
            stub.Check(health_pb2.HealthCheckRequest(service=UNKNOWN), timeout=TIMEOUT)
            raise SystemExit("Check of an unknown service succeeded")
        except grpc.RpcError as e:
            say(f"check-unknown {e.code().name}")

        watch = stub.Watch(health_pb2.HealthCheckRequest(service=watched), timeout=TIMEOUT)
        say(f"watch {watched} {name(next(watch).status)}")
        say(f"watch {watched} {name(next(watch).status)}")
        watch.cancel()

        watch = stub.Watch(health_pb2.HealthCheckRequest(service=UNKNOWN), timeout=TIMEOUT)
        say(f"watch-unknown {name(next(watch).status)}")
        watch.cancel()
    say("done")


if __name__ == "__main__":
    main()
