//! gRPC on top of HTTP/2 streams (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
//!
//! The pieces here are self-contained and know nothing about connections:
//!
//! * [`status`] — [`Code`], [`Status`], `grpc-status` / `grpc-message`
//!   wire forms, and the mappings from HTTP status and RST_STREAM codes;
//! * [`timeout`] — `grpc-timeout` parsing and formatting;
//!
//! Every function here is pure: no I/O, no clock. Anything a peer sends is
//! validated and turned into an error value, never a panic.

pub mod status;
pub mod timeout;

pub use status::{Code, Status};
pub use timeout::TimeoutError;
