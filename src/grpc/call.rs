//! What client and server calls share: call ids, receiving messages
//! (deframing and decompression), framing messages to send, and the header
//! blocks of PROTOCOL-HTTP2.md (request, response, trailers, Trailers-Only).

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::compression::{self, Encoding};
use super::framing::{self, Deframer};
use super::metadata::Metadata;
use super::status::{Code, Status};
use crate::frame::Origin;
use crate::hpack::Field;

/// Names one call on a connection. Copyable; never reused on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// The `content-type` of gRPC over protobuf.
pub(crate) const CONTENT_TYPE: &[u8] = b"application/grpc";

/// Whether a `content-type` value is gRPC: `application/grpc` alone or
/// followed by `+format` or `;params` (PROTOCOL-HTTP2.md, Content-Type).
pub(crate) fn is_grpc_content_type(v: &[u8]) -> bool {
    match v.strip_prefix(CONTENT_TYPE) {
        Some(rest) => rest.is_empty() || rest[0] == b'+' || rest[0] == b';',
        None => false,
    }
}

/// A header block being built: inline room for a gRPC request's fields,
/// so building one does not allocate.
pub(crate) type FieldBuf = SmallVec<[Field; 10]>;

/// The first value of a header field.
pub(crate) fn field<'a>(fields: &'a [Field], name: &[u8]) -> Option<&'a Bytes> {
    fields
        .iter()
        .find(|f| f.name.as_ref() == name)
        .map(|f| &f.value)
}

/// Receiving side of a call: DATA payloads in, messages out.
#[derive(Debug)]
pub(crate) struct Inbound {
    deframer: Deframer,
    /// The `grpc-encoding` of the messages the peer sends.
    pub(crate) encoding: Encoding,
    /// Whether the message last returned by `next_message` had its
    /// Compressed-Flag set.
    pub(crate) last_compressed: bool,
    /// What the partial message kept alive at the last `settle`.
    pub(crate) held: usize,
}

impl Inbound {
    pub(crate) fn new(max_message_size: usize) -> Inbound {
        Inbound {
            deframer: Deframer::new(max_message_size),
            encoding: Encoding::Identity,
            last_compressed: false,
            held: 0,
        }
    }

    /// A DATA payload, a slice of the received chunk `origin`.
    pub(crate) fn push(&mut self, data: Bytes, origin: Origin) {
        if !data.is_empty() {
            self.deframer.push_from(data, origin);
        }
    }

    /// After `next_message` gave `None`: what waits for the rest of its
    /// message is kept honestly (see `Deframer::settle`); `more_coming`
    /// says whether more payloads of the newest one's chunk are queued.
    /// Returns what the partial message now keeps alive.
    /// Returns what the partial message now keeps alive if that grew,
    /// `None` if it did not (pieces of a read whose other pieces are still queued are
    /// counted once that read is judged: at most one read per call later).
    pub(crate) fn settle(&mut self, more_coming: bool) -> Option<usize> {
        let judged = self.deframer.settle(more_coming);
        let held = if self.deframer.is_empty() {
            0
        } else if judged || self.held == 0 {
            self.deframer.held_bytes()
        } else {
            return None;
        };
        let grew = held > self.held;
        self.held = held;
        grew.then_some(held)
    }

    /// Memory the partial message keeps alive, counted now.
    pub(crate) fn held_bytes(&self) -> usize {
        self.deframer.held_bytes()
    }

    /// The next complete message, decompressed. An error ends the call with
    /// the status it carries.
    #[inline]
    pub(crate) fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        let Some(m) = self.deframer.next().map_err(|e| e.to_status())? else {
            return Ok(None);
        };
        self.last_compressed = m.compressed;
        if !m.compressed {
            return Ok(Some(m.data));
        }
        if self.encoding == Encoding::Identity {
            // PROTOCOL-HTTP2.md: a compressed flag without a grpc-encoding
            // is an error.
            return Err(Status::internal(
                "compressed message without a grpc-encoding (PROTOCOL-HTTP2.md, Compressed-Flag)",
            ));
        }
        let limit = self.deframer.max_message_size();
        compression::decompress(self.encoding, &m.data, limit)
            .map(Some)
            .map_err(|e| {
                Status::new(
                    e.code(),
                    format!("cannot decompress a {} message: {e}", self.encoding),
                )
            })
    }

    /// At end of stream: a message cut short is an error.
    pub(crate) fn finish(&self) -> Result<(), Status> {
        self.deframer.finish().map_err(|e| e.to_status())
    }

    /// Whether no partial message is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.deframer.is_empty()
    }
}

/// The status of a call whose partial message took the connection past
/// its `max_buffered_bytes`.
pub(crate) fn over_buffered_limit(limit: usize) -> Status {
    Status::new(
        Code::ResourceExhausted,
        format!(
            "the connection holds more than its limit of {limit} bytes for messages not yet \
             complete (max_buffered_bytes)"
        ),
    )
}

/// Where message prefixes are cut from: 5-byte slices of shared 4 KiB
/// blocks, so sending a message allocates once per ~800 messages instead of
/// once each. A block lives while any of its prefixes is queued (or is
/// the last prefix cut, kept to be handed out again for a message of the
/// same length: at most one block more).
#[derive(Debug, Default)]
pub(crate) struct PrefixArena {
    block: BytesMut,
    /// The prefix cut last.
    last: Bytes,
}

impl PrefixArena {
    const BLOCK: usize = 4096;

    fn prefix(&mut self, head: [u8; framing::HEADER_LEN]) -> Bytes {
        if self.last.first_chunk() == Some(&head) {
            // The same prefix as the last message (same flag and length).
            return self.last.clone();
        }
        if self.block.capacity() < head.len() {
            self.block = BytesMut::with_capacity(Self::BLOCK);
        }
        self.block.extend_from_slice(&head);
        self.last = self.block.split().freeze();
        self.last.clone()
    }
}

/// A message to send: the 5-byte prefix and the payload, compressed with
/// `encoding` unless it is identity (the payload is then not copied).
pub(crate) fn frame_message(
    data: Bytes,
    encoding: Encoding,
    arena: &mut PrefixArena,
) -> Result<(Bytes, Bytes), Status> {
    let body = if encoding == Encoding::Identity {
        data
    } else {
        let mut out = Vec::with_capacity(data.len() / 2 + 16);
        compression::compress(encoding, &data, &mut out).map_err(|e| {
            Status::new(
                e.code(),
                format!("cannot compress a {encoding} message: {e}"),
            )
        })?;
        Bytes::from(out)
    };
    let len = u32::try_from(body.len())
        .map_err(|_| Status::resource_exhausted("message larger than 4 GiB"))?;
    let head = framing::encode_header(encoding != Encoding::Identity, len);
    Ok((arena.prefix(head), body))
}

/// The status fields of trailers (or Trailers-Only): `grpc-status`,
/// `grpc-message` (percent-encoded), `grpc-status-details-bin`, then the
/// trailing metadata.
pub(crate) fn push_status_fields(out: &mut FieldBuf, status: &Status, trailers: &Metadata) {
    out.push(Field::new(
        &b"grpc-status"[..],
        Bytes::from_static(status.code.header_value().as_bytes()),
    ));
    if !status.message.is_empty() {
        out.push(Field::new(
            &b"grpc-message"[..],
            Bytes::from(status.encoded_message()),
        ));
    }
    if let Some(details) = &status.details {
        out.push(Field::new(
            &b"grpc-status-details-bin"[..],
            Bytes::from(super::base64::encode(details)),
        ));
    }
    out.extend(trailers.to_fields());
}

/// Reads the status out of trailers (or a Trailers-Only response).
/// A missing `grpc-status` is `UNKNOWN` (http-grpc-status-mapping.md).
pub(crate) fn status_from_fields(fields: &[Field]) -> Status {
    let Some(code) = field(fields, b"grpc-status") else {
        return Status::unknown("response ended without grpc-status");
    };
    let code = Code::from_header_value(code);
    let message = field(fields, b"grpc-message")
        .map(|m| super::status::decode_message(m))
        .unwrap_or_default();
    let details = field(fields, b"grpc-status-details-bin")
        .and_then(|d| super::base64::decode(d).ok())
        .map(Bytes::from);
    Status {
        code,
        message,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        assert!(is_grpc_content_type(b"application/grpc"));
        assert!(is_grpc_content_type(b"application/grpc+proto"));
        assert!(is_grpc_content_type(b"application/grpc;charset=utf-8"));
        assert!(!is_grpc_content_type(b"application/grpcx"));
        assert!(!is_grpc_content_type(b"application/json"));
        assert!(!is_grpc_content_type(b""));
    }

    #[test]
    fn status_round_trips_through_trailers() {
        let status = Status::with_details(
            Code::NotFound,
            "no such thing: 100%",
            Bytes::from_static(b"\x00\x01"),
        );
        let mut md = Metadata::new();
        md.append("x-trace", "abc").unwrap();
        let mut fields = FieldBuf::new();
        push_status_fields(&mut fields, &status, &md);
        assert_eq!(status_from_fields(&fields), status);
        assert_eq!(
            Metadata::from_fields(&fields).unwrap().get("x-trace"),
            Some("abc")
        );
    }

    #[test]
    fn missing_grpc_status_is_unknown() {
        assert_eq!(status_from_fields(&[]).code, Code::Unknown);
    }

    #[test]
    fn compressed_flag_without_encoding_is_internal() {
        let mut inb = Inbound::new(100);
        inb.push(
            Bytes::from_static(&[1, 0, 0, 0, 1, b'x']),
            Origin::default(),
        );
        assert_eq!(inb.next_message().unwrap_err().code, Code::Internal);
    }

    #[test]
    fn prefixes_repeat_for_equal_lengths() {
        let mut arena = PrefixArena::default();
        let (a, _) =
            frame_message(Bytes::from_static(b"ab"), Encoding::Identity, &mut arena).unwrap();
        let (b, _) =
            frame_message(Bytes::from_static(b"cd"), Encoding::Identity, &mut arena).unwrap();
        let (c, _) =
            frame_message(Bytes::from_static(b"efg"), Encoding::Identity, &mut arena).unwrap();
        assert_eq!(&a[..], &[0, 0, 0, 0, 2]);
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(&c[..], &[0, 0, 0, 0, 3]);
        assert_eq!(&arena.last[..], &c[..]);
    }

    #[test]
    fn identity_messages_are_framed_without_copy() {
        let data = Bytes::from(vec![7u8; 100]);
        let ptr = data.as_ptr();
        let (head, body) =
            frame_message(data, Encoding::Identity, &mut PrefixArena::default()).unwrap();
        assert_eq!(&head[..], &[0, 0, 0, 0, 100]);
        assert_eq!(body.as_ptr(), ptr);
    }
}
