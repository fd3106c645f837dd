//! # grpc-sansio
//!
//! gRPC and HTTP/2 as a pure protocol core: no sockets, no clocks, no threads,
//! no executor. The caller feeds received bytes and the current [`Instant`],
//! and drains events, bytes to send and the next timer.
//!
//! [`Instant`]: std::time::Instant
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod error;
pub mod frame;
pub mod grpc;
pub mod h2;
pub mod hpack;
pub mod server;
pub mod testing;

pub use error::{ConnectionError, ErrorCode, StreamError};
