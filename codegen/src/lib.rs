//! # grpc-sansio-build
//!
//! Turns `.proto` files into Rust for [grpc-sansio]: `prost` messages and,
//! per service, small sans-IO stubs (no async, no runtime). The `.proto`
//! compiler is [`protox`], written in Rust: no `protoc` binary is needed.
//!
//! In the user's `build.rs` (the error names the file and line of a bad
//! `.proto`; `expect` or `?` makes cargo print it and fail the build):
//!
//! ```no_run
//! // build.rs, in `fn main()`:
//! grpc_sansio_build::Builder::new()
//!     .include("proto")
//!     .compile(["proto/ecommerce.proto"])
//!     .expect("compiling protos");
//! ```
//!
//! and in the crate, one module per protobuf package:
//!
//! ```ignore
//! pub mod ecommerce {
//!     include!(concat!(env!("OUT_DIR"), "/ecommerce.rs"));
//! }
//! ```
//!
//! The crate then depends on `grpc-sansio` and `prost` (0.14).
//!
//! ## What a service becomes
//!
//! For `service ProductInfo` in package `ecommerce`, a module
//! `ecommerce::product_info` with:
//!
//! - `SERVICE_NAME` (`"ecommerce.ProductInfo"`) and, per method, a
//!   `pub const` [`MethodDescriptor`] named in SHOUTY_SNAKE_CASE
//!   (`GET_PRODUCT`: path `/ecommerce.ProductInfo/getProduct` and
//!   [`MethodKind`]);
//! - `ProductInfoMethod`, an enum of the methods with `from_path`, `ALL` and
//!   `descriptor`, and `route(path) -> Option<ProductInfoMethod>`; a server
//!   answers a path no service routes with
//!   `grpc_sansio::codec::route_unimplemented` (UNIMPLEMENTED);
//! - server side: `ProductInfoRequest`, an enum of the request types with
//!   `decode(method, data)`, and `ProductInfoServer::respond_<method>(conn,
//!   call, &Response)`;
//! - client side: `ProductInfoClient::<method>(conn, request, &Request, now)`
//!   for unary and server-streaming methods (start, send, half-close), or
//!   `<method>(conn, request, now)` plus `send_<method>(conn, call,
//!   &Request)` for client and bidi streaming; and
//!   `decode_<method>(data) -> Result<Response, Status>` for each response
//!   message. `request` is a `client::Request` carrying metadata, deadline
//!   and encoding, e.g. `product_info::GET_PRODUCT.request()`.
//!
//! The calls then run like any other: events come from the connection, the
//! stubs only fix paths and types.
//!
//! The encoded `FileDescriptorSet` of the compiled files (imports included)
//! is written next to the code, as `file_descriptor_set.bin` by default
//! (for a reflection service).
//!
//! [grpc-sansio]: https://docs.rs/grpc-sansio
//! [`MethodDescriptor`]: https://docs.rs/grpc-sansio/latest/grpc_sansio/codec/struct.MethodDescriptor.html
//! [`MethodKind`]: https://docs.rs/grpc-sansio/latest/grpc_sansio/codec/enum.MethodKind.html
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

/// prost-build, for [`Builder::prost_config`].
pub use prost_build;

mod stubs;

/// Why code generation failed. `Display` and `Debug` print the same text;
/// for a `.proto` that does not compile it starts with `file:line:column`.
pub struct Error {
    message: String,
}

impl Error {
    fn proto(e: protox::Error) -> Error {
        // protox's Debug form is `file:line:column: message`; its Display
        // leaves the location out.
        Error {
            message: format!("{e:?}"),
        }
    }

    fn io(what: &str, e: std::io::Error) -> Error {
        Error {
            message: format!("{what}: {e}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What `build.rs`'s `.expect()` prints: the plain message.
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Compiles `protos` with the default [`Builder`] and these include
/// directories.
pub fn compile_protos(
    protos: impl IntoIterator<Item = impl AsRef<Path>>,
    includes: impl IntoIterator<Item = impl AsRef<Path>>,
) -> Result<(), Error> {
    let mut b = Builder::new();
    for i in includes {
        b = b.include(i);
    }
    b.compile(protos)
}

/// Configures and runs the generator.
#[derive(Debug)]
pub struct Builder {
    includes: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    runtime: String,
    client: bool,
    server: bool,
    descriptor_set: Option<String>,
    prost: Option<prost_build::Config>,
    rerun_if_changed: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: no include directory (each file's own directory is used),
    /// output to `OUT_DIR`, runtime at `::grpc_sansio`, client and server
    /// stubs, `file_descriptor_set.bin`, `cargo:rerun-if-changed` lines.
    pub fn new() -> Builder {
        Builder {
            includes: Vec::new(),
            out_dir: None,
            runtime: "::grpc_sansio".into(),
            client: true,
            server: true,
            descriptor_set: Some("file_descriptor_set.bin".into()),
            prost: None,
            rerun_if_changed: true,
        }
    }

    /// Adds a directory imports are resolved against. Files given to
    /// [`compile`](Self::compile) must lie under one of them.
    pub fn include(mut self, dir: impl AsRef<Path>) -> Builder {
        self.includes.push(dir.as_ref().to_path_buf());
        self
    }

    /// Where the `.rs` files and the descriptor set go. Default: `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The path generated code names the runtime crate by. Default
    /// `::grpc_sansio`; set it when the crate is renamed or re-exported.
    pub fn runtime_path(mut self, path: impl Into<String>) -> Builder {
        self.runtime = path.into();
        self
    }

    /// Whether to generate the client side (`<Service>Client`). Default true.
    pub fn build_client(mut self, yes: bool) -> Builder {
        self.client = yes;
        self
    }

    /// Whether to generate the server side (`<Service>Request`,
    /// `<Service>Server`). Default true. The method enum and descriptors are
    /// always generated.
    pub fn build_server(mut self, yes: bool) -> Builder {
        self.server = yes;
        self
    }

    /// File name of the encoded `FileDescriptorSet` in the output
    /// directory, or `None` for no file. Default `file_descriptor_set.bin`.
    pub fn file_descriptor_set(mut self, name: Option<&str>) -> Builder {
        self.descriptor_set = name.map(str::to_string);
        self
    }

    /// The prost-build configuration for the messages (extern paths, `bytes`
    /// fields, attributes…). Its service generator and output directory are
    /// replaced by ours.
    pub fn prost_config(mut self, config: prost_build::Config) -> Builder {
        self.prost = Some(config);
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for every `.proto` read
    /// (imports too). Default true.
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Builder {
        self.rerun_if_changed = yes;
        self
    }

    /// Compiles the files and writes one `<package>.rs` per protobuf
    /// package, plus the descriptor set.
    pub fn compile(self, protos: impl IntoIterator<Item = impl AsRef<Path>>) -> Result<(), Error> {
        let protos: Vec<PathBuf> = protos
            .into_iter()
            .map(|p| p.as_ref().to_path_buf())
            .collect();
        let mut includes = self.includes.clone();
        if includes.is_empty() {
            for p in &protos {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !includes.iter().any(|i| i == dir) {
                    includes.push(dir.to_path_buf());
                }
            }
        }
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error {
                    message: "OUT_DIR is not set: run from build.rs or set Builder::out_dir".into(),
                })?,
        };

        let mut compiler = protox::Compiler::new(&includes).map_err(Error::proto)?;
        compiler.include_source_info(true).include_imports(true);
        for p in &protos {
            compiler.open_file(p).map_err(Error::proto)?;
        }
        if self.rerun_if_changed {
            for f in compiler.files() {
                if let Some(path) = f.path() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        if let Some(name) = &self.descriptor_set {
            let path = out_dir.join(name);
            std::fs::write(&path, compiler.encode_file_descriptor_set())
                .map_err(|e| Error::io(&format!("writing {}", path.display()), e))?;
        }

        let mut config = self.prost.unwrap_or_default();
        config
            .out_dir(&out_dir)
            .service_generator(Box::new(stubs::Stubs {
                runtime: self.runtime,
                client: self.client,
                server: self.server,
            }));
        config
            .compile_fds(compiler.file_descriptor_set())
            .map_err(|e| Error::io("generating Rust code", e))
    }
}
