//! Typed (prost) messages through `codec` over the in-memory pair.

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::codec::{decode, respond, start_unary};
use grpc_sansio::grpc::{Code, Status};
use grpc_sansio::{client, server};

#[derive(Clone, PartialEq, prost::Message)]
struct Point {
    #[prost(int32, tag = "1")]
    x: i32,
    #[prost(string, tag = "2")]
    name: String,
}

#[test]
fn malformed_message_is_internal() {
    let err = decode::<Point>(Bytes::from_static(&[0x0a, 0xff])).unwrap_err();
    assert_eq!(err.code, Code::Internal);
}

#[test]
fn typed_unary_over_the_pair() {
    use grpc_sansio::testing::Pair;
    let mut pair = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    let p = Point {
        x: 3,
        name: "a".into(),
    };
    let call = start_unary(
        &mut pair.client,
        client::Request::new("/geo.Map/Get"),
        &p,
        pair.now,
    )
    .unwrap();
    pair.drive();
    let s = match pair.server_events.pop_front() {
        Some(server::Event::Call { call, .. }) => call,
        other => panic!("{other:?}"),
    };
    match pair.server_events.pop_front() {
        Some(server::Event::Message { data, .. }) => {
            assert_eq!(decode::<Point>(data).unwrap(), p)
        }
        other => panic!("{other:?}"),
    }
    respond(
        &mut pair.server,
        s,
        &Point {
            x: 4,
            name: "b".into(),
        },
    )
    .unwrap();
    pair.server
        .finish(s, Status::ok(), &grpc_sansio::grpc::Metadata::new())
        .unwrap();
    pair.drive();
    let got = pair.client_events.iter().find_map(|e| match e {
        client::Event::Message { call: c, data } if *c == call => {
            Some(decode::<Point>(data.clone()).unwrap())
        }
        _ => None,
    });
    assert_eq!(
        got,
        Some(Point {
            x: 4,
            name: "b".into()
        })
    );
}
