//! The interop examples' generated code is checked in (examples build
//! without the generator). This regenerates it from
//! `examples/proto/grpc/testing/test.proto` and fails if the checked-in file
//! differs. To update it after changing the protos or the generator:
//!
//! ```text
//! GRPC_SANSIO_BLESS=1 cargo test -p grpc-sansio-build-tests --test interop_generated
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate is `codegen/test-crate`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn checked_in_interop_code_is_up_to_date() {
    let root = root();
    let protos = root.join("examples/proto");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop_generated");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    grpc_sansio_build::Builder::new()
        .include(&protos)
        .out_dir(&out)
        .runtime_path("grpc_sansio")
        .file_descriptor_set(None)
        .emit_rerun_if_changed(false)
        .compile([protos.join("grpc/testing/test.proto")])
        .expect("compiling grpc/testing/test.proto");
    let fresh = fs::read_to_string(out.join("grpc.testing.rs")).unwrap();
    let checked_in = root.join("examples/generated/grpc.testing.rs");
    if std::env::var_os("GRPC_SANSIO_BLESS").is_some_and(|v| v == "1") {
        fs::write(&checked_in, &fresh).unwrap();
        return;
    }
    let current = fs::read_to_string(&checked_in).unwrap_or_default();
    assert!(
        current == fresh,
        "examples/generated/grpc.testing.rs is out of date: rerun with GRPC_SANSIO_BLESS=1"
    );
}
