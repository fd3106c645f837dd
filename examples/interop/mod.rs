//! The gRPC interop test service and client cases (grpc/grpc
//! `doc/interop-test-descriptions.md`), written once as sans-IO
//! applications: [`server::TestServer`] is a [`ServerApp`](crate::adapters::ServerApp)
//! serving `grpc.testing.TestService`, [`client::CaseApp`] a
//! [`ClientApp`](crate::adapters::ClientApp) running one test case. The
//! examples `interop_server` and `interop_client` drive them with the
//! blocking std adapter; `tests/interop_grpc.rs` runs them against grpcio
//! and grpclib.
//!
//! Requires the `compression` feature (the compression cases use gzip).

#![allow(dead_code)]

pub mod client;
pub mod server;

/// The generated messages and stubs of `examples/proto/grpc/testing/`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!("../generated/grpc.testing.rs");
}

use pb::{Payload, PayloadType};

/// The metadata key the server echoes back in its response headers.
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// The (binary) metadata key the server echoes back in its trailers.
pub const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// A COMPRESSABLE payload of `len` zero bytes, as every case uses.
pub fn zeros(len: usize) -> Payload {
    Payload {
        r#type: PayloadType::Compressable as i32,
        body: vec![0; len],
    }
}

/// The value of `--name=value` or `--name value` among `args`.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    let long = format!("--{name}");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(&long) {
            if let Some(v) = v.strip_prefix('=') {
                return Some(v.to_string());
            }
            if v.is_empty() {
                return it.next().cloned();
            }
        }
    }
    None
}

/// Rejects `--use_tls=true`: these examples speak cleartext HTTP/2 only
/// (TLS belongs to an adapter, which the std adapter does not add).
pub fn check_no_tls(args: &[String]) -> Result<(), String> {
    match flag(args, "use_tls").as_deref() {
        None | Some("false") => Ok(()),
        Some(v) => Err(format!("--use_tls={v} is not supported: plaintext only")),
    }
}
