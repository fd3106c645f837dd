//! The gRPC interop test server: `grpc.testing.TestService` per grpc/grpc
//! `doc/interop-test-descriptions.md`, on the blocking std adapter.
//!
//! ```text
//! cargo run --features compression --example interop_server -- --port=10000 --use_tls=false
//! ```
//!
//! Plaintext only. Ctrl-C shuts down gracefully.

#[path = "adapters/mod.rs"]
mod adapters;
mod interop;

use std::net::TcpListener;
use std::process::ExitCode;

use adapters::{Server, std_io};
use interop::server::{TestServer, config};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = interop::check_no_tls(&args) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let port = interop::flag(&args, "port").unwrap_or_else(|| "10000".into());
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = Server::default();
    std_io::shutdown_on_signal(&server);
    eprintln!("interop server listening on port {port}");
    match std_io::serve(listener, server, config(), |_| TestServer::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}
