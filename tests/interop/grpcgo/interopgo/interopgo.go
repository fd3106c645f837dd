// Package interopgo holds what the grpc-go interop peers share: per-message
// compression and seeing how each message arrived, which grpc-go 1.33 does
// not offer and the compression cases of the interop descriptions need.
//
// Both are written on grpc-go's own extension points, with no change to
// the library:
//
//   - Sending. grpc-go compresses every message of a call once the call
//     has a compressor. A compressor that writes nothing for a message
//     makes grpc-go send that message as it is, with the compressed flag
//     clear (grpc-go flags a message compressed only when the compressor
//     produced bytes). So the codec registered here for "proto" remembers
//     the encoding of every message marked with Plain, and both
//     compressors here (Gzip, registered as "gzip" for
//     grpc.UseCompressor and for decompression, and Legacy, for
//     grpc.RPCCompressor on a server) write nothing for those encodings.
//   - Receiving. Arrivals, a stats.Handler, records for every inbound
//     message whether it came compressed: a message's length on the wire
//     differs from its length after decompression exactly when it was
//     compressed (for the messages the cases send; gzip never makes them
//     the same length).
package interopgo

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
)

// plainMessages holds the messages marked with Plain until encoded.
var plainMessages sync.Map

// Plain marks m to go out uncompressed the next time it is sent, even on a
// call that compresses; it returns m.
func Plain[M proto.Message](m M) M {
	plainMessages.Store(proto.Message(m), struct{}{})
	return m
}

// plain holds the encodings of the Plain messages being sent, by the
// address of their first byte, until a compressor has skipped them.
var plain sync.Map

func skip(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	_, ok := plain.LoadAndDelete(&p[0])
	return ok
}

type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v interface{}) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("interopgo codec: %T is not a proto.Message", v)
	}
	b, err := proto.Marshal(m)
	if _, marked := plainMessages.LoadAndDelete(m); marked && err == nil && len(b) > 0 {
		plain.Store(&b[0], struct{}{})
	}
	return b, err
}

func (codec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("interopgo codec: %T is not a proto.Message", v)
	}
	return proto.Unmarshal(data, m)
}

// Gzip is gzip as an encoding.Compressor, registered as "gzip".
type Gzip struct{}

func (Gzip) Name() string { return "gzip" }

func (Gzip) Compress(w io.Writer) (io.WriteCloser, error) {
	return &maybeGzip{w: w}, nil
}

func (Gzip) Decompress(r io.Reader) (io.Reader, error) {
	return gzip.NewReader(r)
}

// maybeGzip gzips what it is given, unless it is a Plain message.
// grpc-go writes a message in one Write.
type maybeGzip struct {
	w  io.Writer
	z  *gzip.Writer
	no bool
}

func (m *maybeGzip) Write(p []byte) (int, error) {
	if m.z == nil && !m.no {
		if skip(p) {
			m.no = true
		} else {
			m.z = gzip.NewWriter(m.w)
		}
	}
	if m.no {
		return len(p), nil
	}
	return m.z.Write(p)
}

func (m *maybeGzip) Close() error {
	if m.z == nil && !m.no {
		m.z = gzip.NewWriter(m.w) // an empty message
	}
	if m.z != nil {
		return m.z.Close()
	}
	return nil
}

// Legacy is gzip as grpc-go's older Compressor interface, for
// grpc.RPCCompressor: a server compresses its responses with it whatever
// the request's encoding was. An empty message goes out as it is.
type Legacy struct{}

func (Legacy) Type() string { return "gzip" }

func (Legacy) Do(w io.Writer, p []byte) error {
	if len(p) == 0 || skip(p) {
		return nil
	}
	z := gzip.NewWriter(w)
	if _, err := z.Write(p); err != nil {
		return err
	}
	return z.Close()
}

func init() {
	encoding.RegisterCodec(codec{})
	encoding.RegisterCompressor(Gzip{})
}

// Arrivals is a stats.Handler recording, per call, whether each inbound
// message came compressed.
type Arrivals struct{}

type arrivalsKey struct{}

type arrived struct {
	mu         sync.Mutex
	compressed []bool
}

func (Arrivals) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return Track(ctx)
}

// Track gives ctx a record of arrivals, unless it has one: a client calls
// with a tracked context to read Compressed from it afterwards (on a
// server, every call's context is tracked).
func Track(ctx context.Context) context.Context {
	if _, ok := ctx.Value(arrivalsKey{}).(*arrived); ok {
		return ctx
	}
	return context.WithValue(ctx, arrivalsKey{}, &arrived{})
}

func (Arrivals) HandleRPC(ctx context.Context, s stats.RPCStats) {
	p, ok := s.(*stats.InPayload)
	if !ok {
		return
	}
	if a, ok := ctx.Value(arrivalsKey{}).(*arrived); ok {
		a.mu.Lock()
		// WireLength counts the 5-byte message header too.
		a.compressed = append(a.compressed, p.WireLength-5 != p.Length)
		a.mu.Unlock()
	}
}

func (Arrivals) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (Arrivals) HandleConn(context.Context, stats.ConnStats) {}

// Compressed says, for the call of ctx, whether each inbound message so
// far came compressed, in order.
func Compressed(ctx context.Context) []bool {
	a, ok := ctx.Value(arrivalsKey{}).(*arrived)
	if !ok {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bool(nil), a.compressed...)
}
