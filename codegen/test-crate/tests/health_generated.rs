//! The health service's generated code and encoded descriptor set are
//! checked in (the runtime crate must build without the generator). This
//! regenerates them from `proto/grpc/health/v1/health.proto` and fails if a
//! checked-in file differs. To update it after changing the proto or the generator:
//!
//! ```text
//! GRPC_SANSIO_BLESS=1 cargo test -p grpc-sansio-build-tests --test health_generated
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate is `codegen/test-crate`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn checked_in_health_code_is_up_to_date() {
    let root = root();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("health_generated");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    grpc_sansio_build::Builder::new()
        .include(root.join("proto"))
        .out_dir(&out)
        .runtime_path("crate")
        .file_descriptor_set(Some("grpc.health.v1.bin"))
        .emit_rerun_if_changed(false)
        .compile([root.join("proto/grpc/health/v1/health.proto")])
        .expect("compiling health.proto");
    for name in ["grpc.health.v1.rs", "grpc.health.v1.bin"] {
        check_or_bless(
            &fs::read(out.join(name)).unwrap(),
            &root.join("src/services/generated").join(name),
        );
    }
}

/// Fails if `checked_in` differs from `fresh`; with `GRPC_SANSIO_BLESS=1`,
/// writes `fresh` there instead.
fn check_or_bless(fresh: &[u8], checked_in: &Path) {
    if std::env::var_os("GRPC_SANSIO_BLESS").is_some_and(|v| v == "1") {
        fs::write(checked_in, fresh).unwrap();
        return;
    }
    let current = fs::read(checked_in).unwrap_or_default();
    assert!(
        current == fresh,
        "{} is out of date: rerun with GRPC_SANSIO_BLESS=1",
        checked_in.display()
    );
}
