//! The HTTP/2 connection (RFC 9113 §5, §6): one state machine for both roles.
//!
//! Layout: `connection.rs` holds the state and the driving verbs,
//! `recv.rs` the handling of each received frame type, `send.rs` the
//! commands and the send scheduler, `stream.rs` the stream-state table of
//! §5.1, `closed.rs` the remembered closed streams, `flow.rs` the window
//! arithmetic, `fields.rs` the field rules of §8.2-8.3, `budget.rs` the
//! per-interval abuse budgets.

mod budget;
mod closed;
mod config;
mod connection;
mod event;
pub mod fields;
mod flow;
mod recv;
mod send;
mod stream;

pub use config::{Config, Rate, ReleaseMode, SharedConfig, WindowUpdatePolicy};
pub use connection::{Connection, Role};
pub use event::{Event, HeadersKind, ResetBy, SendError, Transmit};
