//! gRPC on top of HTTP/2 streams (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
//!
//! The pieces here are self-contained and know nothing about connections:
//!
//! * [`status`] — [`Code`], [`Status`], `grpc-status` / `grpc-message`
//!   wire forms, and the mappings from HTTP status and RST_STREAM codes;
//! * [`timeout`] — `grpc-timeout` parsing and formatting;
//! * [`framing`] — length-prefixed messages (`Compressed-Flag`,
//!   `Message-Length`, `Message`) and a streaming, zero-copy [`Deframer`];
//! * [`compression`] — message encodings (`identity`, and with the
//!   `compression` feature `gzip` and `deflate`), `grpc-encoding` /
//!   `grpc-accept-encoding`, and size-bounded decompression;
//! * [`metadata`] — [`Metadata`], custom metadata with ASCII and binary
//!   (`-bin`, base64) entries and the reserved names kept out of it;
//! * [`MethodPath`] — a received call's `:path`, shared when repeated.
//!
//! Every function here is pure: no I/O, no clock. Anything a peer sends is
//! validated and turned into an error value, never a panic.

mod base64;
pub(crate) mod call;
pub mod compression;
pub mod framing;
pub mod metadata;
mod path;
pub mod status;
pub mod timeout;

pub use call::CallId;
pub use compression::{CompressionError, Encoding};
pub use framing::{DeframeError, Deframer, Message};
pub use metadata::{Metadata, MetadataError, MetadataValue};
pub use path::MethodPath;
pub(crate) use path::RecentPaths;
pub use status::{Code, Status};
pub use timeout::TimeoutError;
