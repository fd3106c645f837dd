//! The lifecycle of each RPC kind through the call layer (client and server
//! endpoints over the in-memory pair).

mod grpc_support;

use grpc_sansio::client;
use grpc_sansio::grpc::{Code, Status};
use grpc_support::*;

/// Regression: a Trailers-Only answer (or trailers after a cut message)
/// arriving before the client half-closed left the client's stream open,
/// holding one of the server's concurrent streams for good.
#[test]
fn early_trailers_only_frees_the_client_stream() {
    let mut p = pair_split(usize::MAX);
    let c = p
        .client
        .start_call(client::Request::new("/test.Svc/Bidi"), p.now)
        .unwrap();
    p.drive();
    let s = take_server_call(&mut p);
    p.server
        .reject(s, Status::new(Code::NotFound, "nope"))
        .unwrap();
    p.drive();
    assert_eq!(status_of(&mut p, c).code, Code::NotFound);
    assert_idle(&mut p);
}
