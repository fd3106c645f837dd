//! The benchmark examples' generated code (`bench.Bench`, the service the
//! side-by-side measurements drive on every server) is checked in as
//! `examples/generated/bench.rs`. This regenerates it from
//! `examples/proto/bench/bench.proto` and fails if the checked-in file
//! differs. `bytes` fields are `Bytes` (cheap clones, no copy on decode).
//! To update it after changing the proto or the generator:
//!
//! ```text
//! GRPC_SANSIO_BLESS=1 cargo test -p grpc-sansio-build-tests --test bench_generated
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate is `codegen/test-crate`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn checked_in_bench_code_is_up_to_date() {
    let root = root();
    let protos = root.join("examples/proto");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench_generated");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    let mut prost = grpc_sansio_build::prost_build::Config::new();
    prost.bytes(["."]);
    grpc_sansio_build::Builder::new()
        .include(&protos)
        .out_dir(&out)
        .runtime_path("grpc_sansio")
        .prost_config(prost)
        .emit_rerun_if_changed(false)
        .compile([protos.join("bench/bench.proto")])
        .expect("compiling the bench proto");
    let fresh = fs::read(out.join("bench.rs")).unwrap();
    let checked_in = root.join("examples/generated/bench.rs");
    if std::env::var_os("GRPC_SANSIO_BLESS").is_some_and(|v| v == "1") {
        fs::write(&checked_in, &fresh).unwrap();
    } else {
        assert!(
            fs::read(&checked_in).unwrap_or_default() == fresh,
            "examples/generated/bench.rs out of date: rerun with GRPC_SANSIO_BLESS=1"
        );
    }
}
