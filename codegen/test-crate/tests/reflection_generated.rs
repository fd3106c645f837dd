//! The reflection service's generated code and encoded descriptor set are
//! checked in (the runtime crate must build without the generator), and so
//! is the descriptor set of the test protos `tests/reflection.rs` serves.
//! This regenerates them and fails if a checked-in file differs. To update
//! them after changing a proto or the generator:
//!
//! ```text
//! GRPC_SANSIO_BLESS=1 cargo test -p grpc-sansio-build-tests --test reflection_generated
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate is `codegen/test-crate`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh output directory under the test's temporary directory.
fn out_dir(name: &str) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    out
}

/// Fails if `checked_in` differs from `fresh`; with `GRPC_SANSIO_BLESS=1`,
/// writes `fresh` there instead.
fn check_or_bless(fresh: &[u8], checked_in: &Path) {
    if std::env::var_os("GRPC_SANSIO_BLESS").is_some_and(|v| v == "1") {
        fs::create_dir_all(checked_in.parent().unwrap()).unwrap();
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

#[test]
fn checked_in_reflection_code_is_up_to_date() {
    let root = root();
    let out = out_dir("reflection_generated");
    // `bytes` fields as `Bytes`: descriptors are answered as zero-copy
    // slices of the registered sets.
    let mut prost = grpc_sansio_build::prost_build::Config::new();
    prost.bytes(["."]);
    grpc_sansio_build::Builder::new()
        .include(root.join("proto"))
        .out_dir(&out)
        .runtime_path("crate")
        .prost_config(prost)
        .file_descriptor_set(Some("grpc.reflection.bin"))
        .emit_rerun_if_changed(false)
        .compile([
            root.join("proto/grpc/reflection/v1/reflection.proto"),
            root.join("proto/grpc/reflection/v1alpha/reflection.proto"),
        ])
        .expect("compiling reflection.proto");
    for name in [
        "grpc.reflection.v1.rs",
        "grpc.reflection.v1alpha.rs",
        "grpc.reflection.bin",
    ] {
        check_or_bless(
            &fs::read(out.join(name)).unwrap(),
            &root.join("src/services/generated").join(name),
        );
    }
}

#[test]
fn checked_in_reflection_test_set_is_up_to_date() {
    let root = root();
    let out = out_dir("reflection_test_set");
    let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    grpc_sansio_build::Builder::new()
        .include(&protos)
        .out_dir(&out)
        .file_descriptor_set(Some("reflection_test.bin"))
        .emit_rerun_if_changed(false)
        .compile([protos.join("reflection_test/top.proto")])
        .expect("compiling the reflection test protos");
    check_or_bless(
        &fs::read(out.join("reflection_test.bin")).unwrap(),
        &root.join("tests/data/reflection_test.bin"),
    );
}
