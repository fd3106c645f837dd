//! The lifecycle of each RPC kind through the call layer (client and server
//! endpoints over the in-memory pair).

mod grpc_support;

use std::time::Duration;

use grpc_sansio::ErrorCode;
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

/// Regression: a call whose stream the server application reset through
/// `h2()` stayed in the server's `active_calls` forever, and its deadline
/// later reported a second ending.
#[test]
fn server_h2_reset_forgets_the_call_and_its_deadline() {
    let mut p = pair_split(usize::MAX);
    let mut req = client::Request::new("/test.Svc/Unary");
    req.deadline = Some(p.now + Duration::from_secs(1));
    let c = p.client.start_call(req, p.now).unwrap();
    p.drive();
    let s = take_server_call(&mut p);
    p.server
        .h2()
        .reset_stream(stream_of(s), ErrorCode::CANCEL)
        .unwrap();
    p.drive();
    assert_eq!(status_of(&mut p, c).code, Code::Cancelled);
    assert_eq!(p.server.active_calls(), 0);
    p.advance(Duration::from_secs(2));
    let sev = server_events_of(&mut p, s);
    assert_eq!(
        server_cancelled(&sev).map(|s| s.code),
        Some(Code::Cancelled)
    );
    assert_idle(&mut p);
}
