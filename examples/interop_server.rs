//! The gRPC interop test server: `grpc.testing.TestService` per grpc/grpc
//! `doc/interop-test-descriptions.md`, on the blocking std adapter.
//!
//! ```text
//! cargo run --features compression --example interop_server -- --port=10000 --use_tls=false
//! ```
//!
//! `--host`: the address to listen on, default `127.0.0.1` (this machine
//! only); `--host=0.0.0.0` serves every interface. Plaintext only. Ctrl-C
//! shuts down gracefully.

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
    let host = interop::flag(&args, "host").unwrap_or_else(|| "127.0.0.1".into());
    let port = interop::flag(&args, "port").unwrap_or_else(|| "10000".into());
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("--port={port} is not a port number");
        return ExitCode::from(2);
    };
    let listener = match TcpListener::bind((host.as_str(), port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {host} port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = Server::default();
    std_io::shutdown_on_signal(&server);
    eprintln!("interop server listening on {host} port {port}");
    match std_io::serve(listener, server, config(), |_| TestServer::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}
