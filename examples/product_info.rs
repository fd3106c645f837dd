//! The ProductInfo service of *gRPC: Up and Running*, chapter 2, on any of
//! the three adapters.
//!
//! ```text
//! cargo run --example product_info -- both --runtime tokio
//! cargo run --example product_info -- server [--runtime std|tokio|smol] [--addr 127.0.0.1:50051]
//! cargo run --example product_info -- client [--runtime std|tokio|smol] [--addr 127.0.0.1:50051]
//! ```
//!
//! The server serves OrderManagement too (one server, both services); the
//! client adds a product, gets it back, and asks for one that does not
//! exist (NOT_FOUND). The services are in `examples/ecommerce/`, their
//! `.proto` in `examples/proto/ecommerce/`.

#[path = "adapters/mod.rs"]
mod adapters;
#[path = "ecommerce/mod.rs"]
mod ecommerce;

fn main() -> std::process::ExitCode {
    ecommerce::cli::main(ecommerce::Flow::ProductInfo)
}
