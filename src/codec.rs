//! Typed messages: `prost` encoding and decoding on top of the byte-level
//! call API, so no user frames bytes by hand.
//!
//! ```
//! use grpc_sansio::codec;
//! // prost implements `Message` for well-known scalar wrappers such as `String`.
//! let bytes = codec::encode(&"hello".to_string());
//! let back: String = codec::decode(bytes).unwrap();
//! assert_eq!(back, "hello");
//! ```

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use prost::Message;

use crate::grpc::{CallId, Status};
use crate::{client, server};

/// Encodes a message into one buffer of exactly its encoded length.
pub fn encode<M: Message>(message: &M) -> Bytes {
    let mut buf = BytesMut::with_capacity(message.encoded_len());
    // Encoding into a buffer with enough capacity cannot fail.
    let _ = message.encode(&mut buf);
    buf.freeze()
}

/// Decodes a received message; a malformed one is an INTERNAL status
/// (the peer sent bytes that are not the method's message type).
pub fn decode<M: Message + Default>(data: Bytes) -> Result<M, Status> {
    M::decode(data).map_err(|e| Status::internal(format!("failed to decode message: {e}")))
}

/// Client: starts a call whose request is one message (unary and
/// server-streaming methods): start, send, half-close.
pub fn start_unary<M: Message>(
    conn: &mut client::Connection,
    request: client::Request,
    message: &M,
    now: Instant,
) -> Result<CallId, Status> {
    let call = conn.start_call(request, now)?;
    // A fresh call has an empty send buffer: neither step can be refused.
    let _ = conn.send_message(call, encode(message));
    let _ = conn.half_close(call);
    Ok(call)
}

/// Client: sends one typed message on a streaming call.
pub fn send<M: Message>(
    conn: &mut client::Connection,
    call: CallId,
    message: &M,
) -> Result<(), client::CallError> {
    conn.send_message(call, encode(message))
}

/// Server: sends one typed response message.
pub fn respond<M: Message>(
    conn: &mut server::Connection,
    call: CallId,
    message: &M,
) -> Result<(), server::CallError> {
    conn.send_message(call, encode(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Point {
        #[prost(int32, tag = "1")]
        x: i32,
        #[prost(string, tag = "2")]
        name: String,
    }

    #[test]
    fn round_trip() {
        let p = Point {
            x: -7,
            name: "here".into(),
        };
        let b = encode(&p);
        assert_eq!(b.len(), p.encoded_len());
        assert_eq!(decode::<Point>(b).unwrap(), p);
    }

    #[test]
    fn malformed_is_internal() {
        let err = decode::<Point>(Bytes::from_static(&[0x0a, 0xff])).unwrap_err();
        assert_eq!(err.code, crate::grpc::Code::Internal);
    }

    #[test]
    fn typed_unary_over_the_pair() {
        use crate::testing::Pair;
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
            .finish(s, Status::ok(), &crate::grpc::Metadata::new())
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
}
