//! A gRPC health probe, for a Kubernetes exec probe or a shell: one
//! `grpc.health.v1.Health/Check` call, its answer printed, and the exit
//! code saying it.
//!
//! ```text
//! cargo run --features health --example health_probe -- \
//!     --addr 127.0.0.1:50051 [--service NAME] [--timeout-ms 1000]
//! ```
//!
//! Exit code: 0 when the service is SERVING; 1 when the server answered
//! that it is not (NOT_SERVING, SERVICE_UNKNOWN, or NOT_FOUND for a service
//! it does not know); 2 when no answer came (connection refused or broken,
//! deadline passed, the server has no health service) or the arguments are
//! wrong. The service `""` (the default) is the server as a whole.
//!
//! In a pod spec:
//!
//! ```yaml
//! readinessProbe:
//!   exec:
//!     command: ["/health_probe", "--addr", "127.0.0.1:50051"]
//! ```

#[path = "adapters/mod.rs"]
mod adapters;
#[path = "services/probe.rs"]
mod probe;

use std::time::Duration;

const USAGE: &str =
    "usage: health_probe --addr HOST:PORT [--service NAME] [--timeout-ms MS (default 1000)]";

fn main() {
    let mut addr = None;
    let mut service = String::new();
    let mut timeout = Duration::from_millis(1000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--addr", Some(v)) => addr = Some(v),
            ("--service", Some(v)) => service = v,
            ("--timeout-ms", Some(v)) => match v.parse() {
                Ok(ms) => timeout = Duration::from_millis(ms),
                Err(_) => usage(&format!("bad --timeout-ms {v:?}")),
            },
            (flag, _) => usage(&format!("unexpected argument {flag:?}")),
        }
    }
    let Some(addr) = addr else {
        usage("--addr is required")
    };
    let outcome = probe::probe(&addr, &service, timeout);
    let name = if service.is_empty() {
        "(server)"
    } else {
        &service
    };
    println!("{name}: {outcome}");
    std::process::exit(outcome.exit_code());
}

fn usage(why: &str) -> ! {
    eprintln!("health_probe: {why}\n{USAGE}");
    std::process::exit(2);
}
