//! The gRPC interop test client: the cases of grpc/grpc
//! `doc/interop-test-descriptions.md` against any interop server, on the
//! blocking std adapter.
//!
//! ```text
//! cargo run --features compression --example interop_client -- \
//!     --server_host=localhost --server_port=10000 --test_case=large_unary --use_tls=false
//! ```
//!
//! `--test_case=all` runs every case, each on its own connection. Prints
//! `PASS <case>` or `FAIL <case>: <reason>` per case; exits 0 only if every
//! case passed.

#[path = "adapters/mod.rs"]
mod adapters;
mod interop;

use std::process::ExitCode;

use interop::client::{CASES, run_case};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = interop::check_no_tls(&args) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let host = interop::flag(&args, "server_host").unwrap_or_else(|| "localhost".into());
    let port = interop::flag(&args, "server_port").unwrap_or_else(|| "10000".into());
    let case = interop::flag(&args, "test_case").unwrap_or_else(|| "large_unary".into());
    let cases: Vec<&str> = match case.as_str() {
        "all" => CASES.to_vec(),
        one if CASES.contains(&one) => vec![one],
        other => {
            eprintln!(
                "unknown test case {other}; known: all, {}",
                CASES.join(", ")
            );
            return ExitCode::from(2);
        }
    };
    let addr = format!("{host}:{port}");
    let mut failed = 0;
    for case in cases {
        match run_case(&addr, case) {
            Ok(()) => println!("PASS {case}"),
            Err(why) => {
                println!("FAIL {case}: {why}");
                failed += 1;
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
