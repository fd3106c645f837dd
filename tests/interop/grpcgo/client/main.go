// The interop client cases on grpc-go, written by us per grpc/grpc
// doc/interop-test-descriptions.md.
//
//	grpcgo_client --server_host=127.0.0.1 --server_port=N --test_case=all
//
// Prints `PASS <case>` or `FAIL <case>: <why>` per case, each case on a
// connection of its own; exits 0 unless a case failed.
//
// Compression (see package interopgo): a call compresses its requests with
// grpc.UseCompressor("gzip"), one request goes out uncompressed wrapped in
// interopgo.Plain, the server_compressed_* cases say they accept
// gzip responses (acceptGzip) and check, with interopgo.Compressed, how
// every response came.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"grpcsansio.test/interopgo"
	pb "grpcsansio.test/testingpb"
)

// How long one case may take (except for what is about deadlines).
const caseTimeout = 20 * time.Second

const (
	echoInitial   = "x-grpc-test-echo-initial"
	echoTrailing  = "x-grpc-test-echo-trailing-bin"
	initialValue  = "test_initial_metadata_value"
	trailingValue = "\xab\xab\xab"
	specialMsg    = "\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \U0001F608\t\n"
)

var cases = []struct {
	name string
	run  func(context.Context, *grpc.ClientConn) error
}{
	{"empty_unary", emptyUnary},
	{"large_unary", largeUnary},
	{"client_streaming", clientStreaming},
	{"server_streaming", serverStreaming},
	{"ping_pong", pingPong},
	{"empty_stream", emptyStream},
	{"timeout_on_sleeping_server", timeoutOnSleepingServer},
	{"cancel_after_begin", cancelAfterBegin},
	{"cancel_after_first_response", cancelAfterFirstResponse},
	{"custom_metadata", customMetadata},
	{"status_code_and_message", statusCodeAndMessage},
	{"special_status_message", specialStatusMessage},
	{"unimplemented_method", unimplementedMethod},
	{"unimplemented_service", unimplementedService},
	{"client_compressed_unary", clientCompressedUnary},
	{"server_compressed_unary", serverCompressedUnary},
	{"client_compressed_streaming", clientCompressedStreaming},
	{"server_compressed_streaming", serverCompressedStreaming},
}

func zeros(n int) *pb.Payload {
	return &pb.Payload{Type: pb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

func checkPayload(p *pb.Payload, n int, what string) error {
	body := p.GetBody()
	if len(body) != n || !bytes.Equal(body, make([]byte, n)) {
		return fmt.Errorf("%s: expected %d zero bytes, got %d bytes", what, n, len(body))
	}
	return nil
}

func largeRequest() *pb.SimpleRequest {
	return &pb.SimpleRequest{ResponseSize: 314159, Payload: zeros(271828)}
}

func sized(sizes ...int32) []*pb.ResponseParameters {
	var ps []*pb.ResponseParameters
	for _, s := range sizes {
		ps = append(ps, &pb.ResponseParameters{Size: s})
	}
	return ps
}

// wantCode checks that err carries status code c.
func wantCode(err error, c codes.Code) error {
	if s := status.Convert(err); s.Code() != c {
		return fmt.Errorf("expected %v, got %v %q", c, s.Code(), s.Message())
	}
	return nil
}

// recvAll reads a stream's responses to its end and checks their sizes.
func recvAll(stream grpc.ClientStream, sizes ...int) error {
	for i := 0; ; i++ {
		m := new(pb.StreamingOutputCallResponse)
		err := stream.RecvMsg(m)
		if err == io.EOF {
			if i != len(sizes) {
				return fmt.Errorf("expected %d responses, got %d", len(sizes), i)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("response %d: %v", i+1, err)
		}
		if i >= len(sizes) {
			return fmt.Errorf("more than %d responses", len(sizes))
		}
		if err := checkPayload(m.Payload, sizes[i], fmt.Sprintf("response %d", i+1)); err != nil {
			return err
		}
	}
}

func emptyUnary(ctx context.Context, cc *grpc.ClientConn) error {
	r, err := pb.NewTestServiceClient(cc).EmptyCall(ctx, &pb.Empty{})
	if err != nil {
		return err
	}
	if r == nil {
		return errors.New("no response")
	}
	return nil
}

func largeUnary(ctx context.Context, cc *grpc.ClientConn) error {
	r, err := pb.NewTestServiceClient(cc).UnaryCall(ctx, largeRequest())
	if err != nil {
		return err
	}
	return checkPayload(r.Payload, 314159, "response payload")
}

func clientStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	stream, err := pb.NewTestServiceClient(cc).StreamingInputCall(ctx)
	if err != nil {
		return err
	}
	for _, n := range []int{27182, 8, 1828, 45904} {
		if err := stream.Send(&pb.StreamingInputCallRequest{Payload: zeros(n)}); err != nil {
			return err
		}
	}
	r, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	if r.AggregatedPayloadSize != 74922 {
		return fmt.Errorf("aggregated_payload_size %d != 74922", r.AggregatedPayloadSize)
	}
	return nil
}

func serverStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	req := &pb.StreamingOutputCallRequest{ResponseParameters: sized(31415, 9, 2653, 58979)}
	stream, err := pb.NewTestServiceClient(cc).StreamingOutputCall(ctx, req)
	if err != nil {
		return err
	}
	return recvAll(stream, 31415, 9, 2653, 58979)
}

func pingPong(ctx context.Context, cc *grpc.ClientConn) error {
	stream, err := pb.NewTestServiceClient(cc).FullDuplexCall(ctx)
	if err != nil {
		return err
	}
	sizes := []int32{31415, 9, 2653, 58979}
	payloads := []int{27182, 8, 1828, 45904}
	for i := range sizes {
		req := &pb.StreamingOutputCallRequest{
			ResponseParameters: sized(sizes[i]),
			Payload:            zeros(payloads[i]),
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("ping %d: %v", i+1, err)
		}
		r, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("pong %d: %v", i+1, err)
		}
		if err := checkPayload(r.Payload, int(sizes[i]), fmt.Sprintf("pong %d", i+1)); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	return recvAll(stream)
}

func emptyStream(ctx context.Context, cc *grpc.ClientConn) error {
	stream, err := pb.NewTestServiceClient(cc).FullDuplexCall(ctx)
	if err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	return recvAll(stream)
}

func timeoutOnSleepingServer(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	stream, err := pb.NewTestServiceClient(cc).FullDuplexCall(ctx)
	if err != nil {
		return wantCode(err, codes.DeadlineExceeded)
	}
	// The deadline may already have ended the call: a failed send is fine.
	_ = stream.Send(&pb.StreamingOutputCallRequest{Payload: zeros(27182)})
	_, err = stream.Recv()
	return wantCode(err, codes.DeadlineExceeded)
}

func cancelAfterBegin(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := pb.NewTestServiceClient(cc).StreamingInputCall(ctx)
	if err != nil {
		cancel()
		return err
	}
	cancel()
	_, err = stream.CloseAndRecv()
	return wantCode(err, codes.Canceled)
}

func cancelAfterFirstResponse(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewTestServiceClient(cc).FullDuplexCall(ctx)
	if err != nil {
		return err
	}
	req := &pb.StreamingOutputCallRequest{ResponseParameters: sized(31415), Payload: zeros(27182)}
	if err := stream.Send(req); err != nil {
		return err
	}
	r, err := stream.Recv()
	if err != nil {
		return err
	}
	if err := checkPayload(r.Payload, 31415, "first response"); err != nil {
		return err
	}
	cancel()
	_, err = stream.Recv()
	return wantCode(err, codes.Canceled)
}

func checkEcho(header, trailer metadata.MD) error {
	if v := header.Get(echoInitial); len(v) != 1 || v[0] != initialValue {
		return fmt.Errorf("%s in headers: %q", echoInitial, v)
	}
	if v := trailer.Get(echoTrailing); len(v) != 1 || v[0] != trailingValue {
		return fmt.Errorf("%s in trailers: %q", echoTrailing, v)
	}
	return nil
}

func customMetadata(ctx context.Context, cc *grpc.ClientConn) error {
	ctx = metadata.AppendToOutgoingContext(ctx, echoInitial, initialValue, echoTrailing, trailingValue)
	client := pb.NewTestServiceClient(cc)
	var header, trailer metadata.MD
	r, err := client.UnaryCall(ctx, largeRequest(), grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		return fmt.Errorf("unary: %v", err)
	}
	if err := checkPayload(r.Payload, 314159, "unary response"); err != nil {
		return err
	}
	if err := checkEcho(header, trailer); err != nil {
		return fmt.Errorf("unary: %v", err)
	}

	stream, err := client.FullDuplexCall(ctx)
	if err != nil {
		return err
	}
	req := &pb.StreamingOutputCallRequest{ResponseParameters: sized(314159), Payload: zeros(271828)}
	if err := stream.Send(req); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if header, err = stream.Header(); err != nil {
		return err
	}
	if err := recvAll(stream, 314159); err != nil {
		return err
	}
	if err := checkEcho(header, stream.Trailer()); err != nil {
		return fmt.Errorf("full duplex: %v", err)
	}
	return nil
}

func wantStatus(err error, msg string) error {
	s := status.Convert(err)
	if s.Code() != codes.Unknown || s.Message() != msg {
		return fmt.Errorf("expected UNKNOWN %q, got %v %q", msg, s.Code(), s.Message())
	}
	return nil
}

func statusCodeAndMessage(ctx context.Context, cc *grpc.ClientConn) error {
	const msg = "test status message"
	echo := &pb.EchoStatus{Code: 2, Message: msg}
	client := pb.NewTestServiceClient(cc)
	_, err := client.UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: echo})
	if err := wantStatus(err, msg); err != nil {
		return fmt.Errorf("unary: %v", err)
	}
	stream, err := client.FullDuplexCall(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{ResponseStatus: echo}); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	_, err = stream.Recv()
	if err := wantStatus(err, msg); err != nil {
		return fmt.Errorf("full duplex: %v", err)
	}
	return nil
}

func specialStatusMessage(ctx context.Context, cc *grpc.ClientConn) error {
	echo := &pb.EchoStatus{Code: 2, Message: specialMsg}
	_, err := pb.NewTestServiceClient(cc).UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: echo})
	return wantStatus(err, specialMsg)
}

func unimplementedMethod(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := pb.NewTestServiceClient(cc).UnimplementedCall(ctx, &pb.Empty{})
	return wantCode(err, codes.Unimplemented)
}

func unimplementedService(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := pb.NewUnimplementedServiceClient(cc).UnimplementedCall(ctx, &pb.Empty{})
	return wantCode(err, codes.Unimplemented)
}

func clientCompressedUnary(ctx context.Context, cc *grpc.ClientConn) error {
	client := pb.NewTestServiceClient(cc)
	expecting := func(v bool) *pb.SimpleRequest {
		r := largeRequest()
		r.ExpectCompressed = &pb.BoolValue{Value: v}
		return r
	}
	// The probe: an uncompressed message that claims to be compressed must
	// be refused, or the server checks nothing.
	_, err := client.UnaryCall(ctx, expecting(true))
	if err := wantCode(err, codes.InvalidArgument); err != nil {
		return fmt.Errorf("probe: %v", err)
	}
	r, err := client.UnaryCall(ctx, expecting(true), grpc.UseCompressor("gzip"))
	if err != nil {
		return fmt.Errorf("compressed call: %v", err)
	}
	if err := checkPayload(r.Payload, 314159, "compressed call"); err != nil {
		return err
	}
	r, err = client.UnaryCall(ctx, expecting(false))
	if err != nil {
		return fmt.Errorf("uncompressed call: %v", err)
	}
	return checkPayload(r.Payload, 314159, "uncompressed call")
}

// acceptGzip says that responses may come gzip-compressed, which grpc-go
// 1.33 says only on calls that compress their requests: the header is not
// one grpc-go reserves, so it goes as metadata.
func acceptGzip(ctx context.Context) context.Context {
	return interopgo.Track(metadata.AppendToOutgoingContext(ctx, "grpc-accept-encoding", "gzip"))
}

func serverCompressedUnary(ctx context.Context, cc *grpc.ClientConn) error {
	client := pb.NewTestServiceClient(cc)
	for _, compressed := range []bool{true, false} {
		req := largeRequest()
		req.ResponseCompressed = &pb.BoolValue{Value: compressed}
		tracked := acceptGzip(ctx)
		r, err := client.UnaryCall(tracked, req)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("response (compressed=%v)", compressed)
		if err := checkPayload(r.Payload, 314159, what); err != nil {
			return err
		}
		if came := interopgo.Compressed(tracked); len(came) != 1 || came[0] != compressed {
			return fmt.Errorf("%s came compressed=%v", what, came)
		}
	}
	return nil
}

func input(n int, expect bool) *pb.StreamingInputCallRequest {
	return &pb.StreamingInputCallRequest{Payload: zeros(n), ExpectCompressed: &pb.BoolValue{Value: expect}}
}

func clientCompressedStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	client := pb.NewTestServiceClient(cc)
	// The probe, as in client_compressed_unary.
	stream, err := client.StreamingInputCall(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(input(27182, true)); err != nil && err != io.EOF {
		return err
	}
	_, err = stream.CloseAndRecv()
	if err := wantCode(err, codes.InvalidArgument); err != nil {
		return fmt.Errorf("probe: %v", err)
	}

	stream, err = client.StreamingInputCall(ctx, grpc.UseCompressor("gzip"))
	if err != nil {
		return err
	}
	if err := stream.Send(input(27182, true)); err != nil {
		return err
	}
	if err := stream.Send(interopgo.Plain(input(45904, false))); err != nil {
		return err
	}
	r, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	if r.AggregatedPayloadSize != 73086 {
		return fmt.Errorf("aggregated_payload_size %d != 73086", r.AggregatedPayloadSize)
	}
	return nil
}

func serverCompressedStreaming(ctx context.Context, cc *grpc.ClientConn) error {
	req := &pb.StreamingOutputCallRequest{ResponseParameters: []*pb.ResponseParameters{
		{Size: 31415, Compressed: &pb.BoolValue{Value: true}},
		{Size: 92653, Compressed: &pb.BoolValue{Value: false}},
	}}
	tracked := acceptGzip(ctx)
	stream, err := pb.NewTestServiceClient(cc).StreamingOutputCall(tracked, req)
	if err != nil {
		return err
	}
	if err := recvAll(stream, 31415, 92653); err != nil {
		return err
	}
	if came := interopgo.Compressed(tracked); len(came) != 2 || !came[0] || came[1] {
		return fmt.Errorf("compressed flags %v, expected [true false]", came)
	}
	return nil
}

func runCase(addr string, run func(context.Context, *grpc.ClientConn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cc, err := grpc.DialContext(ctx, addr,
		grpc.WithInsecure(),
		grpc.WithBlock(),
		grpc.WithStatsHandler(interopgo.Arrivals{}),
	)
	if err != nil {
		return fmt.Errorf("dial: %v", err)
	}
	defer cc.Close()
	return run(ctx, cc)
}

func main() {
	host := flag.String("server_host", "127.0.0.1", "server host")
	port := flag.Int("server_port", 0, "server port")
	testCase := flag.String("test_case", "all", "a case name, or all")
	flag.Parse()
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	failed, found := false, false
	for _, c := range cases {
		if *testCase != "all" && *testCase != c.name {
			continue
		}
		found = true
		if err := runCase(addr, c.run); err != nil {
			fmt.Printf("FAIL %s: %v\n", c.name, err)
			failed = true
		} else {
			fmt.Printf("PASS %s\n", c.name)
		}
	}
	if !found {
		fmt.Printf("FAIL %s: no such test case\n", *testCase)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}
