//! The command line of the `product_info` and `order_management` examples:
//!
//! ```text
//! <example> server|client|both [--runtime std|tokio|smol] [--addr 127.0.0.1:50051]
//! ```
//!
//! `server` serves both services until Ctrl-C (graceful shutdown); `client`
//! runs the book's client flow against `--addr`; `both` starts a server on
//! a free port, runs the client against it, prints the exchange, shuts the
//! server down and exits.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use grpc_sansio::{client, server};

use super::{BookClient, EcommerceApp, Flow, Store};
use crate::adapters::{Runtime, Server};

/// The parsed command line.
struct Args {
    mode: String,
    runtime: Runtime,
    addr: SocketAddr,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut mode = None;
    let mut runtime = Runtime::Std;
    let mut addr: SocketAddr = "127.0.0.1:50051".parse().expect("a valid address");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => {
                let v = args.next().ok_or("--runtime needs a value")?;
                runtime = v.parse()?;
            }
            "--addr" => {
                let v = args.next().ok_or("--addr needs a value")?;
                addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "server" | "client" | "both" if mode.is_none() => mode = Some(a),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let mode = mode.ok_or("say server, client or both")?;
    Ok(Args {
        mode,
        runtime,
        addr,
    })
}

/// Runs the example of `flow` as the command line says.
pub fn main(flow: Flow) -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("usage: server|client|both [--runtime std|tokio|smol] [--addr HOST:PORT]");
            return ExitCode::from(2);
        }
    };
    match run(flow, args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(flow: Flow, args: Args) -> std::io::Result<bool> {
    let rt = args.runtime;
    match args.mode.as_str() {
        "server" => {
            let listener = TcpListener::bind(args.addr)?;
            println!("{rt} server listening on {}", listener.local_addr()?);
            let server = Server::default();
            let store = Store::book();
            let config = server::Config::default();
            let app = move |_| EcommerceApp::new(store.clone());
            rt.serve_in_thread(listener, server, config, app, true)
                .join()
                .map_err(|_| std::io::Error::other("the server panicked"))??;
            println!("server stopped");
            Ok(true)
        }
        "client" => client(flow, rt, args.addr),
        _ => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            println!("{rt} server listening on {addr}");
            let server = Server::default();
            let store = Store::book();
            let app = move |_| EcommerceApp::new(store.clone());
            let handle = rt.serve_in_thread(
                listener,
                server.clone(),
                server::Config::default(),
                app,
                false,
            );
            let ok = client(flow, rt, addr)?;
            server.shutdown();
            handle
                .join()
                .map_err(|_| std::io::Error::other("the server panicked"))??;
            println!("server stopped");
            Ok(ok)
        }
    }
}

/// Runs the book's client of `flow`, printing each answer; whether every
/// call ended as the book expects.
fn client(flow: Flow, rt: Runtime, addr: SocketAddr) -> std::io::Result<bool> {
    let mut app = BookClient::new(flow);
    app.echo = true;
    let config = client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    };
    println!("{rt} client of {addr}:");
    rt.run_client(addr, config, &mut app)?;
    let expected = super::expected_codes(flow);
    let ok = app.seen.statuses == expected;
    if !ok {
        eprintln!(
            "unexpected statuses: {:?} (wanted {expected:?})",
            app.seen.statuses
        );
    }
    Ok(ok)
}
