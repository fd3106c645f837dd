//! The examples' generated code (the book's ProductInfo and
//! OrderManagement services) is checked in under `examples/generated/`: the
//! root crate's examples build without the generator. This regenerates it
//! from `examples/proto/ecommerce/` and fails if the checked-in files differ.
//! To update them after changing the protos or the generator:
//!
//! ```text
//! GRPC_SANSIO_BLESS=1 cargo test -p grpc-sansio-build-tests --test examples_generated
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate is `codegen/test-crate`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn checked_in_examples_code_is_up_to_date() {
    let root = root();
    let protos = root.join("examples/proto");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("examples_generated");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    // Both services are in package `ecommerce`: one compile call writes
    // them into one `ecommerce.rs`. The descriptor set (imports included,
    // so google/protobuf/wrappers.proto too) is for a reflection service.
    grpc_sansio_build::Builder::new()
        .include(&protos)
        .out_dir(&out)
        .runtime_path("grpc_sansio")
        .file_descriptor_set(Some("ecommerce.bin"))
        .emit_rerun_if_changed(false)
        .compile([
            protos.join("ecommerce/product_info.proto"),
            protos.join("ecommerce/order_management.proto"),
        ])
        .expect("compiling the examples' protos");
    let bless = std::env::var_os("GRPC_SANSIO_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for name in ["ecommerce.rs", "ecommerce.bin"] {
        let fresh = fs::read(out.join(name)).unwrap();
        let checked_in = root.join("examples/generated").join(name);
        if bless {
            fs::write(&checked_in, &fresh).unwrap();
        } else if fs::read(&checked_in).unwrap_or_default() != fresh {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "examples/generated/{stale:?} out of date: rerun with GRPC_SANSIO_BLESS=1"
    );
}
