//! # grpc-sansio
//!
//! gRPC and HTTP/2 as a pure protocol core: no sockets, no clocks, no threads,
//! no executor. The caller feeds received bytes and the current [`Instant`],
//! and drains events, bytes to send and the next timer.
//!
//! Layers, each usable alone: [`frame`] (bytes ⇄ frames) → [`hpack`]
//! (header blocks) → [`h2`] (the HTTP/2 connection) → [`client`] /
//! [`server`] (gRPC calls, with the pieces in [`grpc`]) → [`codec`] (typed
//! `prost` messages). [`testing::Pair`] joins a client and a server in
//! memory.
//!
//! The driving loop of an adapter, in outline:
//!
//! ```text
//! loop {
//!     while let Some(t) = conn.poll_transmit() { socket.write_vectored(t.chunks()) }
//!     let timeout = conn.poll_timeout();
//!     match socket.read(buf, until: timeout) {
//!         Ok(0)     => conn.recv_eof(now),
//!         Ok(n)     => conn.recv(buf[..n], now),
//!         Timed out => conn.handle_timeout(now),
//!     }
//!     while let Some(event) = conn.poll_event() { app.handle(event, &mut conn) }
//!     if conn.is_closed() { break }
//! }
//! ```
//!
//! [`Instant`]: std::time::Instant
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
mod deque;
pub mod error;
pub mod frame;
pub mod grpc;
pub mod h2;
pub mod hpack;
pub mod server;
#[cfg(any(feature = "health", feature = "reflection"))]
pub mod services;
mod small_map;
pub mod testing;

pub use error::{ConnectionError, ErrorCode, StreamError};

/// The README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
