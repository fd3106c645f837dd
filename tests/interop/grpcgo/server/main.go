// The interop server on grpc-go: grpc.testing.TestService per grpc/grpc
// doc/interop-test-descriptions.md, written by us.
//
//	grpcgo_server --port=0
//
// Prints `LISTENING <port>` once serving; runs until killed.
//
// Compression (see package interopgo): requests may come gzip-compressed;
// `expect_compressed` is checked against how each request came, a unary
// response is compressed when `response_compressed` asks for it, and a
// streaming response when its ResponseParameters.compressed does; every
// other response goes out uncompressed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"grpcsansio.test/interopgo"
	pb "grpcsansio.test/testingpb"
)

const (
	echoInitial  = "x-grpc-test-echo-initial"
	echoTrailing = "x-grpc-test-echo-trailing-bin"
)

type server struct {
	pb.UnimplementedTestServiceServer
}

func zeros(n int32) *pb.Payload {
	return &pb.Payload{Type: pb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// echoMetadata sends back the echo keys of the request: the initial one in
// the response headers, the trailing one in the trailers.
func echoMetadata(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(echoInitial); len(v) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs(echoInitial, v[0]))
	}
	if v := md.Get(echoTrailing); len(v) > 0 {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(echoTrailing, v[0]))
	}
}

func echoStatus(s *pb.EchoStatus) error {
	if s == nil || s.Code == 0 {
		return nil
	}
	return status.Error(codes.Code(s.Code), s.Message)
}

// checkArrival fails with INVALID_ARGUMENT when a request's
// expect_compressed does not match how the request (the n-th inbound
// message of the call) came.
func checkArrival(ctx context.Context, expect *pb.BoolValue, n int) error {
	if expect == nil {
		return nil
	}
	came := interopgo.Compressed(ctx)
	if n >= len(came) {
		return status.Error(codes.Internal, "no record of how the request came")
	}
	if came[n] != expect.Value {
		return status.Errorf(codes.InvalidArgument,
			"expected compressed=%v, got compressed=%v", expect.Value, came[n])
	}
	return nil
}

// outbound is m marked to go as it must: compressed only if asked.
func outbound[M proto.Message](m M, compressed *pb.BoolValue) M {
	if compressed.GetValue() {
		return m
	}
	return interopgo.Plain(m)
}

func (server) EmptyCall(context.Context, *pb.Empty) (*pb.Empty, error) {
	return &pb.Empty{}, nil // zero bytes, which Legacy never compresses
}

func (server) UnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	echoMetadata(ctx)
	if err := checkArrival(ctx, in.ExpectCompressed, 0); err != nil {
		return nil, err
	}
	if err := echoStatus(in.ResponseStatus); err != nil {
		return nil, err
	}
	resp := &pb.SimpleResponse{Payload: zeros(in.ResponseSize)}
	if in.FillServerId {
		resp.ServerId = "grpcgo"
		resp.Hostname, _ = os.Hostname()
	}
	return outbound(resp, in.ResponseCompressed), nil
}

func (s server) CacheableUnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	return s.UnaryCall(ctx, in)
}

// respond sends the responses one request asks for.
func respond(stream grpc.ServerStream, params []*pb.ResponseParameters) error {
	for _, p := range params {
		if p.IntervalUs > 0 {
			time.Sleep(time.Duration(p.IntervalUs) * time.Microsecond)
		}
		m := &pb.StreamingOutputCallResponse{Payload: zeros(p.Size)}
		if err := stream.SendMsg(outbound(m, p.Compressed)); err != nil {
			return err
		}
	}
	return nil
}

func (server) StreamingOutputCall(in *pb.StreamingOutputCallRequest, stream pb.TestService_StreamingOutputCallServer) error {
	echoMetadata(stream.Context())
	if err := respond(stream, in.ResponseParameters); err != nil {
		return err
	}
	return echoStatus(in.ResponseStatus)
}

func (server) StreamingInputCall(stream pb.TestService_StreamingInputCallServer) error {
	ctx := stream.Context()
	echoMetadata(ctx)
	var total int32
	for n := 0; ; n++ {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(outbound(&pb.StreamingInputCallResponse{AggregatedPayloadSize: total}, nil))
		}
		if err != nil {
			return err
		}
		if err := checkArrival(ctx, in.ExpectCompressed, n); err != nil {
			return err
		}
		total += int32(len(in.GetPayload().GetBody()))
	}
}

func (server) FullDuplexCall(stream pb.TestService_FullDuplexCallServer) error {
	echoMetadata(stream.Context())
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := respond(stream, in.ResponseParameters); err != nil {
			return err
		}
		if err := echoStatus(in.ResponseStatus); err != nil {
			return err
		}
	}
}

// HalfDuplexCall answers every request once the client half-closed.
func (server) HalfDuplexCall(stream pb.TestService_HalfDuplexCallServer) error {
	echoMetadata(stream.Context())
	var all []*pb.StreamingOutputCallRequest
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		all = append(all, in)
	}
	for _, in := range all {
		if err := respond(stream, in.ResponseParameters); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	port := flag.Int("port", 0, "port to listen on (0: any free port)")
	flag.Parse()
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcgo_server:", err)
		os.Exit(1)
	}
	s := grpc.NewServer(
		grpc.RPCCompressor(interopgo.Legacy{}),
		grpc.StatsHandler(interopgo.Arrivals{}),
	)
	pb.RegisterTestServiceServer(s, server{})
	fmt.Printf("LISTENING %d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "grpcgo_server:", err)
		os.Exit(1)
	}
}
