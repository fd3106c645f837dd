//! gRPC on top of HTTP/2 streams (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
//!
//! The pieces here are self-contained and know nothing about connections:
//!
//! * [`status`] — [`Code`], [`Status`], `grpc-status` / `grpc-message`
//!   wire forms, and the mappings from HTTP status and RST_STREAM codes;
//! * [`timeout`] — `grpc-timeout` parsing and formatting;
//! * [`framing`] — length-prefixed messages (`Compressed-Flag`,
//!   `Message-Length`, `Message`) and a streaming, zero-copy [`Deframer`];
//!
//! Every function here is pure: no I/O, no clock. Anything a peer sends is
//! validated and turned into an error value, never a panic.

pub mod framing;
pub mod status;
pub mod timeout;

pub use framing::{DeframeError, Deframer, Message};
pub use status::{Code, Status};
pub use timeout::TimeoutError;
