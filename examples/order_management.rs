//! The OrderManagement service of *gRPC: Up and Running*, chapter 3 (one
//! method of each RPC kind), on any of the three adapters.
//!
//! ```text
//! cargo run --example order_management -- both --runtime smol
//! cargo run --example order_management -- server [--runtime std|tokio|smol] [--addr 127.0.0.1:50051]
//! cargo run --example order_management -- client [--runtime std|tokio|smol] [--addr 127.0.0.1:50051]
//! ```
//!
//! The client gets order 106 and an unknown one (NOT_FOUND), searches the
//! orders with an item containing "Google" (server streaming), streams
//! three updates (client streaming), and has orders grouped into shipments
//! by destination (bidirectional: a shipment for each destination once a
//! batch of three ids filled, the rest at the end). The services are in
//! `examples/ecommerce/`, their `.proto` in `examples/proto/ecommerce/`.

#[path = "adapters/mod.rs"]
mod adapters;
#[path = "ecommerce/mod.rs"]
mod ecommerce;

fn main() -> std::process::ExitCode {
    ecommerce::cli::main(ecommerce::Flow::OrderManagement)
}
