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

/// The four kinds of RPC (PROTOCOL-HTTP2.md): whether the client, the
/// server, both or neither send a stream of messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    BidiStreaming,
}

impl MethodKind {
    /// The kind of a method from its two `stream` flags in the `.proto`.
    pub const fn new(client_streaming: bool, server_streaming: bool) -> MethodKind {
        match (client_streaming, server_streaming) {
            (false, false) => MethodKind::Unary,
            (false, true) => MethodKind::ServerStreaming,
            (true, false) => MethodKind::ClientStreaming,
            (true, true) => MethodKind::BidiStreaming,
        }
    }

    /// Whether the client sends a stream of messages.
    pub const fn client_streaming(self) -> bool {
        matches!(
            self,
            MethodKind::ClientStreaming | MethodKind::BidiStreaming
        )
    }

    /// Whether the server sends a stream of messages.
    pub const fn server_streaming(self) -> bool {
        matches!(
            self,
            MethodKind::ServerStreaming | MethodKind::BidiStreaming
        )
    }
}

/// A method as generated code describes it (`grpc-sansio-build`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodDescriptor {
    /// `/package.Service/Method`, the `:path` of its calls.
    pub path: &'static str,
    /// Which side streams.
    pub kind: MethodKind,
}

impl MethodDescriptor {
    /// A request for this method with no metadata, deadline or compression;
    /// set those fields before starting the call.
    pub fn request(&self) -> client::Request {
        client::Request::new(self.path)
    }
}

/// The status for a call no service on the server takes: UNIMPLEMENTED,
/// for an unknown service and for an unknown method alike
/// (PROTOCOL-HTTP2.md; statuscodes.md). `services` are the full names of
/// the services served (each generated module's `SERVICE_NAME`); they only
/// make the message say which of the two it was, as grpc-go's does.
///
/// ```
/// use grpc_sansio::codec::route_unimplemented;
/// use grpc_sansio::grpc::Code;
/// let s = route_unimplemented("/shop.Cart/Fly", &["shop.Cart"]);
/// assert_eq!(s.code, Code::Unimplemented);
/// assert_eq!(s.message, "unknown method Fly for service shop.Cart");
/// let s = route_unimplemented("/shop.Moon/Fly", &["shop.Cart"]);
/// assert_eq!(s.message, "unknown service shop.Moon");
/// ```
pub fn route_unimplemented(path: &str, services: &[&str]) -> Status {
    match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
        Some((service, method)) if services.contains(&service) => {
            Status::unimplemented(format!("unknown method {method} for service {service}"))
        }
        Some((service, _)) => Status::unimplemented(format!("unknown service {service}")),
        None => Status::unimplemented(format!("malformed method path {path:?}")),
    }
}

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
    fn method_kinds() {
        for (c, s) in [(false, false), (false, true), (true, false), (true, true)] {
            let k = MethodKind::new(c, s);
            assert_eq!((k.client_streaming(), k.server_streaming()), (c, s));
        }
    }

    #[test]
    fn unknown_routes_are_unimplemented() {
        for path in ["/pkg.Svc/Nope", "/pkg.Other/Get", "nonsense", "/noslash"] {
            let s = route_unimplemented(path, &["pkg.Svc"]);
            assert_eq!(s.code, crate::grpc::Code::Unimplemented, "{path}");
        }
        assert_eq!(
            route_unimplemented("/pkg.Svc/Nope", &["pkg.Svc"]).message,
            "unknown method Nope for service pkg.Svc"
        );
    }

    #[test]
    fn malformed_is_internal() {
        let err = decode::<Point>(Bytes::from_static(&[0x0a, 0xff])).unwrap_err();
        assert_eq!(err.code, crate::grpc::Code::Internal);
    }
}
