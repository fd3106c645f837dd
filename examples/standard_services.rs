//! A server of the book's services (`ecommerce.ProductInfo`,
//! `ecommerce.OrderManagement`) with the standard services next to them,
//! on blocking std sockets: the health service `grpc.health.v1.Health` (for
//! grpc-health-probe, Kubernetes' gRPC probes, `examples/health_probe.rs`)
//! and server reflection `grpc.reflection.v1` and `v1alpha` (for grpcurl,
//! grpc_cli, evans, Postman), which describes all of them.
//!
//! ```text
//! cargo run --features health,reflection --example standard_services -- --port 50051
//! grpcurl -plaintext 127.0.0.1:50051 list
//! grpcurl -plaintext 127.0.0.1:50051 describe grpc.health.v1.Health
//! # flip shop.Cart between SERVING and NOT_SERVING every 2 s (watch it):
//! cargo run --features health,reflection --example standard_services -- \
//!     --port 50051 --toggle shop.Cart --every 2000
//! grpcurl -plaintext -d '{"service":"shop.Cart"}' 127.0.0.1:50051 grpc.health.v1.Health/Watch
//! ```
//!
//! Ctrl-C (or SIGTERM) shuts down gracefully: every service turns
//! NOT_SERVING (watchers see it), open watches end with UNAVAILABLE, and
//! each connection drains with GOAWAY.

#[path = "adapters/mod.rs"]
mod adapters;
#[path = "ecommerce/mod.rs"]
mod ecommerce;
#[path = "services/mod.rs"]
mod services;

use std::net::TcpListener;
use std::time::Duration;

use adapters::{Server, std_io};
use grpc_sansio::server;
use grpc_sansio::services::health::ServingStatus;
use services::Services;

const USAGE: &str = "usage: standard_services [--host IP (default 127.0.0.1)] [--port N (default 50051)] [--toggle SERVICE [--every MS (default 1000)]]";

fn main() -> std::io::Result<()> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 50051u16;
    let mut toggle = None;
    let mut every = Duration::from_millis(1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--host", Some(v)) => host = v,
            ("--port", Some(v)) => port = v.parse().unwrap_or_else(|_| usage("bad --port")),
            ("--toggle", Some(v)) => toggle = Some(v),
            ("--every", Some(v)) => {
                let ms = v.parse().unwrap_or_else(|_| usage("bad --every"));
                every = Duration::from_millis(ms);
            }
            (flag, _) => usage(&format!("unexpected argument {flag:?}")),
        }
    }

    let listener = TcpListener::bind((host.as_str(), port))?;
    let server = Server::default();
    let store = ecommerce::Store::book();
    let services = Services::new(server.clone()).with_app(
        ecommerce::FILE_DESCRIPTOR_SET,
        &ecommerce::SERVICE_NAMES,
        move |_| ecommerce::EcommerceApp::new(store.clone()),
    );
    println!(
        "serving {} on {}",
        services.service_names().join(", "),
        listener.local_addr()?
    );

    let on_signal = services.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        eprintln!("signal: shutting down");
        on_signal.shutdown();
    }) {
        eprintln!("cannot catch signals: {e}");
    }

    if let Some(name) = toggle {
        services.set_status(&name, ServingStatus::Serving);
        let services = services.clone();
        std::thread::spawn(move || {
            let mut status = ServingStatus::Serving;
            loop {
                std::thread::sleep(every);
                if services.server().is_shutting_down() {
                    return;
                }
                status = match status {
                    ServingStatus::Serving => ServingStatus::NotServing,
                    _ => ServingStatus::Serving,
                };
                println!("{name}: {}", status.as_str_name());
                services.set_status(&name, status);
            }
        });
    }

    let make = services.clone();
    std_io::serve(listener, server, server::Config::default(), move |id| {
        make.app(id)
    })?;
    println!("stopped");
    Ok(())
}

fn usage(why: &str) -> ! {
    eprintln!("standard_services: {why}\n{USAGE}");
    std::process::exit(2);
}
