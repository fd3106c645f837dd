//! The HTTP/2 connection (RFC 9113 §5, §6): one state machine for both roles.

pub mod fields;
