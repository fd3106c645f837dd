//! The health-checking service over the in-memory pair, through the
//! generated client stubs.
#![cfg(feature = "health")]

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::codec;
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::services::health::v1::HealthCheckRequest;
use grpc_sansio::services::health::v1::health::{self, HealthClient};
use grpc_sansio::services::health::{HealthService, ServingStatus};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

const CONN: u64 = 1;

fn pair() -> Pair {
    Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    )
}

/// Drives until quiet; health calls go to `health`, the one other path
/// (`/echo.Echo/Say`) echoes its request, anything else is UNIMPLEMENTED.
fn run(p: &mut Pair, health: &mut HealthService) {
    let mut echoes = Vec::new();
    loop {
        assert!(p.drive(), "livelock");
        if p.server_events.is_empty() {
            return;
        }
        while let Some(ev) = p.server_events.pop_front() {
            if health.handle_event(CONN, &mut p.server, &ev) {
                continue;
            }
            match ev {
                server::Event::Call { call, path, .. } if path == "/echo.Echo/Say" => {
                    echoes.push(call);
                }
                server::Event::Call { call, path, .. } => {
                    let status = codec::route_unimplemented(&path, &[health::SERVICE_NAME]);
                    p.server.reject(call, status).unwrap();
                }
                server::Event::Message { call, data } if echoes.contains(&call) => {
                    p.server.send_message(call, data).unwrap();
                }
                server::Event::HalfClose { call } if echoes.contains(&call) => {
                    p.server
                        .finish(call, Status::ok(), &Metadata::new())
                        .unwrap();
                }
                _ => {}
            }
        }
    }
}

fn req(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
    }
}

/// Takes the statuses a call received so far, decoded.
fn received(p: &mut Pair, call: CallId) -> Vec<ServingStatus> {
    let mut out = Vec::new();
    p.client_events.retain(|e| match e {
        client::Event::Message { call: c, data } if *c == call => {
            let r = HealthClient::decode_watch(data.clone()).unwrap();
            out.push(r.status());
            false
        }
        _ => true,
    });
    out
}

/// The call's final status, if it ended.
fn ended(p: &Pair, call: CallId) -> Option<Status> {
    p.client_events.iter().find_map(|e| match e {
        client::Event::Status {
            call: c, status, ..
        } if *c == call => Some(status.clone()),
        _ => None,
    })
}

fn check(p: &mut Pair, h: &mut HealthService, service: &str) -> Result<ServingStatus, Status> {
    let call =
        HealthClient::check(&mut p.client, health::CHECK.request(), &req(service), p.now).unwrap();
    run(p, h);
    let got = received(p, call);
    let status = ended(p, call).expect("check ended");
    if status.is_ok() {
        assert_eq!(got.len(), 1);
        Ok(got[0])
    } else {
        assert!(got.is_empty());
        Err(status)
    }
}

fn watch(p: &mut Pair, h: &mut HealthService, service: &str) -> CallId {
    let call =
        HealthClient::watch(&mut p.client, health::WATCH.request(), &req(service), p.now).unwrap();
    run(p, h);
    call
}

#[test]
fn check_answers_the_status_or_not_found() {
    let mut p = pair();
    let mut h = HealthService::new();
    h.set_serving_status("", ServingStatus::Serving);
    h.set_serving_status("shop.Cart", ServingStatus::NotServing);
    assert_eq!(check(&mut p, &mut h, ""), Ok(ServingStatus::Serving));
    assert_eq!(
        check(&mut p, &mut h, "shop.Cart"),
        Ok(ServingStatus::NotServing)
    );
    let err = check(&mut p, &mut h, "shop.Moon").unwrap_err();
    assert_eq!(err.code, Code::NotFound);

    h.set_serving_status("shop.Cart", ServingStatus::Serving);
    assert_eq!(
        check(&mut p, &mut h, "shop.Cart"),
        Ok(ServingStatus::Serving)
    );
    h.clear("shop.Cart");
    assert_eq!(
        check(&mut p, &mut h, "shop.Cart").unwrap_err().code,
        Code::NotFound
    );
    assert_eq!(p.server.active_calls(), 0);
}

#[test]
fn watch_sends_the_status_then_changes_only() {
    let mut p = pair();
    let mut h = HealthService::new();
    h.set_serving_status("shop.Cart", ServingStatus::Serving);
    let call = watch(&mut p, &mut h, "shop.Cart");
    assert_eq!(received(&mut p, call), [ServingStatus::Serving]);
    assert_eq!(h.watchers(), 1);

    h.set_serving_status("shop.Cart", ServingStatus::NotServing);
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    assert_eq!(received(&mut p, call), [ServingStatus::NotServing]);

    // Not a change: nothing is sent, however often updates are polled.
    h.set_serving_status("shop.Cart", ServingStatus::NotServing);
    h.poll_updates(CONN, &mut p.server);
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    assert!(received(&mut p, call).is_empty());

    // Another service's change is not this watcher's.
    h.set_serving_status("shop.Other", ServingStatus::Serving);
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    assert!(received(&mut p, call).is_empty());
    assert!(ended(&p, call).is_none());

    // Cleared: the service is unknown again.
    h.clear("shop.Cart");
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    assert_eq!(received(&mut p, call), [ServingStatus::ServiceUnknown]);
}

#[test]
fn watch_of_an_unknown_service_waits_for_it() {
    let mut p = pair();
    let mut h = HealthService::new();
    let call = watch(&mut p, &mut h, "shop.Later");
    assert_eq!(received(&mut p, call), [ServingStatus::ServiceUnknown]);
    assert!(ended(&p, call).is_none(), "the call stays open");

    h.set_serving_status("shop.Later", ServingStatus::Serving);
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    assert_eq!(received(&mut p, call), [ServingStatus::Serving]);
    assert!(ended(&p, call).is_none());
}

#[test]
fn cancelling_a_watch_frees_the_watcher() {
    let mut p = pair();
    let mut h = HealthService::new();
    h.set_serving_status("", ServingStatus::Serving);
    let call = watch(&mut p, &mut h, "");
    assert_eq!(received(&mut p, call), [ServingStatus::Serving]);
    assert_eq!(h.watchers(), 1);

    p.client.cancel(call).unwrap();
    run(&mut p, &mut h);
    assert_eq!(h.watchers(), 0);
    assert_eq!(p.server.active_calls(), 0);

    // Later changes go nowhere.
    h.set_serving_status("", ServingStatus::NotServing);
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    assert!(received(&mut p, call).is_empty());
}

#[test]
fn other_calls_on_the_connection_are_unaffected() {
    let mut p = pair();
    let mut h = HealthService::new();
    h.set_serving_status("", ServingStatus::Serving);
    let w = watch(&mut p, &mut h, "");
    assert_eq!(received(&mut p, w), [ServingStatus::Serving]);

    let echo = p
        .client
        .start_call(client::Request::new("/echo.Echo/Say"), p.now)
        .unwrap();
    p.client
        .send_message(echo, Bytes::from_static(b"hi"))
        .unwrap();
    p.client.half_close(echo).unwrap();
    h.set_serving_status("", ServingStatus::NotServing);
    h.poll_updates(CONN, &mut p.server);
    run(&mut p, &mut h);
    let echoed: Vec<Bytes> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            client::Event::Message { call, data } if *call == echo => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(echoed, [Bytes::from_static(b"hi")]);
    assert!(ended(&p, echo).unwrap().is_ok());
    assert_eq!(received(&mut p, w), [ServingStatus::NotServing]);

    // An unknown method of the health service is not taken by it.
    let bad = codec::start_unary(
        &mut p.client,
        client::Request::new("/grpc.health.v1.Health/List"),
        &req(""),
        p.now,
    )
    .unwrap();
    run(&mut p, &mut h);
    assert_eq!(ended(&p, bad).unwrap().code, Code::Unimplemented);
    assert!(ended(&p, w).is_none());
    assert_eq!(h.watchers(), 1);
}

#[test]
fn watchers_are_bounded() {
    let mut p = pair();
    let mut h = HealthService::new().with_max_watchers(2);
    h.set_serving_status("", ServingStatus::Serving);
    let a = watch(&mut p, &mut h, "");
    let b = watch(&mut p, &mut h, "");
    let c = watch(&mut p, &mut h, "");
    assert_eq!(received(&mut p, a), [ServingStatus::Serving]);
    assert_eq!(received(&mut p, b), [ServingStatus::Serving]);
    assert!(received(&mut p, c).is_empty());
    assert_eq!(ended(&p, c).unwrap().code, Code::ResourceExhausted);
    assert_eq!(h.watchers(), 2);
    // Check is not a watcher.
    assert_eq!(check(&mut p, &mut h, ""), Ok(ServingStatus::Serving));

    // A freed place is taken again.
    p.client.cancel(a).unwrap();
    run(&mut p, &mut h);
    let d = watch(&mut p, &mut h, "");
    assert_eq!(received(&mut p, d), [ServingStatus::Serving]);
    assert_eq!(h.watchers(), 2);
}

#[test]
fn watchers_of_several_connections() {
    let mut p = pair();
    let mut q = pair();
    let mut h = HealthService::new();
    h.set_serving_status("", ServingStatus::Serving);
    let a = watch(&mut p, &mut h, "");
    // The second connection's events, under id 2.
    let b = HealthClient::watch(&mut q.client, health::WATCH.request(), &req(""), q.now).unwrap();
    assert!(q.drive());
    while let Some(ev) = q.server_events.pop_front() {
        assert!(h.handle_event(2, &mut q.server, &ev));
    }
    assert!(q.drive());
    assert_eq!(received(&mut q, b), [ServingStatus::Serving]);
    assert_eq!(received(&mut p, a), [ServingStatus::Serving]);
    assert_eq!(h.watchers(), 2);

    h.set_serving_status("", ServingStatus::NotServing);
    h.poll_updates(CONN, &mut p.server);
    h.poll_updates(2, &mut q.server);
    run(&mut p, &mut h);
    assert!(q.drive());
    assert_eq!(received(&mut p, a), [ServingStatus::NotServing]);
    assert_eq!(received(&mut q, b), [ServingStatus::NotServing]);

    // The second connection closes: its watcher is forgotten.
    let closed = server::Event::Closed { error: None };
    assert!(!h.handle_event(2, &mut q.server, &closed));
    assert_eq!(h.watchers(), 1);
}
