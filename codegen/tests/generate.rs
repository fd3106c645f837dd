//! The builder run into a scratch directory: what it writes, and how it
//! reports a `.proto` that does not compile.

use std::fs;
use std::path::PathBuf;

use grpc_sansio_build::Builder;

/// A fresh directory under cargo's scratch space for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("proto")).unwrap();
    fs::create_dir_all(dir.join("out")).unwrap();
    dir
}

fn builder(dir: &std::path::Path) -> Builder {
    Builder::new()
        .include(dir.join("proto"))
        .out_dir(dir.join("out"))
        .emit_rerun_if_changed(false)
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let dir = scratch("syntax_error");
    fs::write(
        dir.join("proto/bad.proto"),
        "syntax = \"proto3\";\npackage p;\n\nmessage M {\n  int32 x = 1\n}\n",
    )
    .unwrap();
    let err = builder(&dir)
        .compile([dir.join("proto/bad.proto")])
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("bad.proto:6:"), "{text}");
    // What build.rs's expect() prints is the same text.
    assert_eq!(format!("{err:?}"), text);
    assert!(!dir.join("out/p.rs").exists());
}

#[test]
fn an_unknown_type_names_file_and_line() {
    let dir = scratch("unknown_type");
    fs::write(
        dir.join("proto/svc.proto"),
        "syntax = \"proto3\";\npackage p;\nmessage A {}\nservice S {\n  rpc Get(A) returns (Missing);\n}\n",
    )
    .unwrap();
    let text = builder(&dir)
        .compile([dir.join("proto/svc.proto")])
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("svc.proto:5:"), "{text}");
    assert!(text.contains("Missing"), "{text}");
}

#[test]
fn a_missing_import_names_the_importing_file() {
    let dir = scratch("missing_import");
    fs::write(
        dir.join("proto/a.proto"),
        "syntax = \"proto3\";\n\nimport \"nowhere.proto\";\n",
    )
    .unwrap();
    let text = builder(&dir)
        .compile([dir.join("proto/a.proto")])
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("a.proto:3:"), "{text}");
    assert!(text.contains("nowhere.proto"), "{text}");
}

const GREETER: &str = r#"syntax = "proto3";
package hello;
import "google/protobuf/empty.proto";

// Says hello.
service Greeter {
  rpc SayHello(HelloRequest) returns (HelloReply);
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);
}

message HelloRequest { string name = 1; }
message HelloReply { string message = 1; }
"#;

#[test]
fn writes_code_and_descriptor_set() {
    let dir = scratch("greeter");
    fs::write(dir.join("proto/hello.proto"), GREETER).unwrap();
    builder(&dir)
        .compile([dir.join("proto/hello.proto")])
        .unwrap();
    let code = fs::read_to_string(dir.join("out/hello.rs")).unwrap();
    for want in [
        "pub struct HelloRequest",
        "pub mod greeter {",
        "pub const SERVICE_NAME: &str = \"hello.Greeter\";",
        "pub const SAY_HELLO: ::grpc_sansio::codec::MethodDescriptor",
        "path: \"/hello.Greeter/SayHello\"",
        "kind: ::grpc_sansio::codec::MethodKind::Unary",
        "pub enum GreeterMethod {",
        "pub enum GreeterRequest {",
        "SayHello(super::HelloRequest)",
        // google.protobuf.Empty is `()` in prost.
        "Ping(())",
        "pub fn respond_say_hello(",
        "pub struct GreeterClient;",
        "pub fn say_hello(",
        "pub fn decode_say_hello(data: ::prost::bytes::Bytes) -> ::core::result::Result<super::HelloReply,",
        "/// Says hello.",
    ] {
        assert!(code.contains(want), "missing {want:?} in:\n{code}");
    }
    let fds = fs::read(dir.join("out/file_descriptor_set.bin")).unwrap();
    // Imports are in the set: google/protobuf/empty.proto, then ours.
    let names = b"google/protobuf/empty.proto";
    assert!(fds.windows(names.len()).any(|w| w == names));
    assert!(fds.windows(11).any(|w| w == b"hello.proto"));
}

#[test]
fn options_choose_sides_runtime_path_and_descriptor_file() {
    let dir = scratch("options");
    fs::write(dir.join("proto/hello.proto"), GREETER).unwrap();
    builder(&dir)
        .build_server(false)
        .runtime_path("crate::rt")
        .file_descriptor_set(None)
        .compile([dir.join("proto/hello.proto")])
        .unwrap();
    let code = fs::read_to_string(dir.join("out/hello.rs")).unwrap();
    assert!(code.contains("pub struct GreeterClient;"));
    assert!(code.contains("pub enum GreeterMethod {"));
    assert!(!code.contains("GreeterServer"));
    assert!(!code.contains("GreeterRequest"));
    assert!(code.contains("crate::rt::codec::MethodDescriptor"));
    assert!(!code.contains("::grpc_sansio"));
    assert!(!dir.join("out/file_descriptor_set.bin").exists());

    builder(&dir)
        .build_client(false)
        .compile([dir.join("proto/hello.proto")])
        .unwrap();
    let code = fs::read_to_string(dir.join("out/hello.rs")).unwrap();
    assert!(!code.contains("GreeterClient"));
    assert!(code.contains("pub struct GreeterServer;"));
}
