#!/usr/bin/env bash
# Builds the grpc-go interop peers, target/grpcgo/bin/grpcgo_server and
# target/grpcgo/bin/grpcgo_client, offline: GOPATH mode against the Go
# packages Debian ships (golang-go, golang-google-grpc-dev for grpc-go,
# golang-google-protobuf-dev for protobuf-go), never the module proxy.
# scripts/install-test-deps installs those packages and runs this script.
#
# The grpc.testing stubs are generated from examples/proto/grpc/testing/
# with protoc, a protoc-gen-go built here from Debian's protobuf-go sources
# (so the generated code matches the runtime it links) and Debian's
# protoc-gen-go-grpc. Everything lands under target/grpcgo/; a stamp of
# the inputs (our Go sources, the protos, the Go and grpc-go versions)
# skips the whole build when nothing changed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
protos="$root/examples/proto"
out="$root/target/grpcgo"
bin="$out/bin"
pkg=grpcsansio.test # the import path prefix of our Go packages

log() { echo "grpcgo/build.sh: $*"; }

want="$(
    {
        find "$here" -type f \( -name '*.go' -o -name build.sh \) -print0 |
            sort -z | xargs -0 sha256sum
        sha256sum "$protos"/grpc/testing/*.proto
        go version
        dpkg-query -W -f='${Package} ${Version}\n' golang-google-grpc-dev \
            golang-google-protobuf-dev protoc-gen-go-grpc protobuf-compiler
    } | sha256sum | cut -d' ' -f1
)"
stamp="$out/.built.sha256"
if [ -x "$bin/grpcgo_server" ] && [ -x "$bin/grpcgo_client" ] &&
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "grpc-go peers up to date in target/grpcgo/bin"
    exit 0
fi

log "building the grpc-go peers into target/grpcgo/bin"
gopath="$out/gopath"
rm -rf "$gopath" "$stamp"
mkdir -p "$bin" "$gopath/src/$pkg/testingpb" "$out/cache"
export GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$out/cache"
export GOPATH="$gopath:/usr/share/gocode"

go build -o "$out/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go

# All three files into one Go package, testingpb.
m=()
for f in empty messages test; do
    m+=("--go_opt=Mgrpc/testing/$f.proto=$pkg/testingpb"
        "--go-grpc_opt=Mgrpc/testing/$f.proto=$pkg/testingpb")
done
protoc -I "$protos" \
    --plugin=protoc-gen-go="$out/protoc-gen-go" \
    --plugin=protoc-gen-go-grpc="$(command -v protoc-gen-go-grpc)" \
    --go_out="$gopath/src/$pkg/testingpb" --go_opt=paths=source_relative \
    --go-grpc_out="$gopath/src/$pkg/testingpb" --go-grpc_opt=paths=source_relative \
    "${m[@]}" \
    "$protos"/grpc/testing/{empty,messages,test}.proto
# source_relative keeps the grpc/testing/ directories: flatten them.
mv "$gopath/src/$pkg/testingpb/grpc/testing/"*.go "$gopath/src/$pkg/testingpb/"
rm -r "$gopath/src/$pkg/testingpb/grpc"

for dir in interopgo server client; do
    mkdir -p "$gopath/src/$pkg/$dir"
    cp "$here/$dir"/*.go "$gopath/src/$pkg/$dir/"
done
go vet "$pkg/interopgo" "$pkg/server" "$pkg/client"
go build -o "$bin/grpcgo_server" "$pkg/server"
go build -o "$bin/grpcgo_client" "$pkg/client"
echo "$want" > "$stamp"
log "built with $(go version | awk '{print $3}'), grpc-go $(dpkg-query -W -f='${Version}' golang-google-grpc-dev)"
