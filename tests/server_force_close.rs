//! `server::Connection::force_close`: the forced end of a shutdown tells every
//! open call how it ended and the client why the connection went away.

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::{CallId, Code, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{ErrorCode, client, server};

fn start(pair: &mut Pair, path: &'static str) -> (CallId, CallId) {
    let call = pair
        .client
        .start_call(client::Request::new(path), pair.now)
        .unwrap();
    pair.client
        .send_message(call, Bytes::from_static(b"request"))
        .unwrap();
    pair.drive();
    let mut server_call = None;
    while let Some(e) = pair.server_events.pop_front() {
        if let server::Event::Call { call, .. } = e {
            server_call = Some(call);
        }
    }
    (call, server_call.expect("the server saw the call"))
}

#[test]
fn force_close_ends_every_open_call_and_sends_goaway() {
    let mut pair = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    pair.drive();
    // A call the server never answered; one it answered a message on; one
    // whose response waits behind the client's flow-control window.
    let (silent, _) = start(&mut pair, "/test.T/Silent");
    let (answered, s_answered) = start(&mut pair, "/test.T/Answered");
    pair.server
        .send_message(s_answered, Bytes::from_static(b"reply"))
        .unwrap();
    let (blocked, s_blocked) = start(&mut pair, "/test.T/Blocked");
    pair.drive();
    pair.client_events.clear();
    // The client stops reading: its window (1 MiB) is not given back, so
    // most of a 3 MB response stays queued at the server.
    pair.client_reads = false;
    pair.server
        .send_message(s_blocked, Bytes::from(vec![7; 3_000_000]))
        .unwrap();
    pair.drive();

    let status = Status::unavailable("server is shutting down");
    pair.server.force_close(status.clone(), pair.now);
    // Before any bytes move, the application hears of each call.
    let mut cancelled = Vec::new();
    let mut closed = false;
    while let Some(e) = pair.server.poll_event() {
        match e {
            server::Event::Cancelled { call, status: s } => {
                assert_eq!(s, status);
                cancelled.push(call);
            }
            server::Event::Closed { .. } => closed = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(cancelled.len(), 3);
    assert!(closed && pair.server.is_closed(), "the connection is over");
    assert_eq!(pair.server.active_calls(), 0);
    pair.client_reads = true;
    pair.drive();

    let mut statuses = std::collections::HashMap::new();
    let mut goaway = None;
    for e in pair.client_events.drain(..) {
        match e {
            client::Event::Status { call, status, .. } => {
                assert!(
                    statuses.insert(call, status).is_none(),
                    "one status per call"
                );
            }
            client::Event::GoAway { code, .. } => goaway = Some(code),
            _ => {}
        }
    }
    assert_eq!(goaway, Some(ErrorCode::NO_ERROR), "the final GOAWAY");
    for call in [silent, answered] {
        let s = &statuses[&call];
        assert_eq!(s.code, Code::Unavailable, "{s:?}");
        assert_eq!(s.message, "server is shutting down");
    }
    // Its data could not go out: reset, which the client reports as such.
    assert_eq!(
        statuses[&blocked].code,
        Code::Cancelled,
        "{:?}",
        statuses[&blocked]
    );
}
