//! Server reflection, `grpc.reflection.v1.ServerReflection` and the older
//! `grpc.reflection.v1alpha.ServerReflection` (grpc/grpc
//! `doc/server-reflection.md`), sans-IO: what lets grpcurl, grpc_cli,
//! Postman or evans list a server's services and describe their messages.
//!
//! A [`ReflectionService`] holds encoded descriptor sets the application
//! registers with [`add_file_descriptor_set`] — the ones grpc-sansio-build
//! writes next to the generated code (`file_descriptor_set.bin` by
//! default), and this crate's own [`FILE_DESCRIPTOR_SET`] and
//! `services::health::FILE_DESCRIPTOR_SET` — and answers reflection calls
//! on any number of [`server::Connection`]s. As with the health service, the
//! application names each connection with an id of its choosing and passes
//! every server event to [`handle_event`] first; when it returns true the
//! event was a reflection call's and is handled.
//!
//! Both packages' paths are served by the same code (their messages are
//! wire-identical). On one call, each request message gets one response
//! message, in order, with `valid_host` and `original_request` copied from
//! the request, as grpc-go and grpc C++ answer:
//!
//! - `list_services`: the [listed services](ReflectionService::set_services);
//!   by default every service declared by a registered file, sorted.
//! - `file_by_filename`, `file_containing_symbol`,
//!   `file_containing_extension`: the file asked for first, then its
//!   transitive dependencies (breadth first, each once), each as the
//!   original bytes of its entry in the registered set. Files already sent
//!   earlier on the call are sent again: every response stands alone.
//!   Symbols are fully-qualified names, without or with a leading dot, of
//!   messages (nested ones too), fields, oneofs, enums, enum values (scoped
//!   as siblings of their enum, as in protobuf), services, methods
//!   (`pkg.Service.Method`) and extensions (in the scope they are declared
//!   in). Dependencies that were never registered are left out: register
//!   sets compiled with their imports (grpc-sansio-build does).
//! - `all_extension_numbers_of_type`: the numbers of the registered
//!   extensions of that message, sorted; NOT_FOUND if no registered file
//!   declares the message.
//! - An unknown file, symbol or extension: an `error_response` with
//!   NOT_FOUND (5); the call goes on.
//! - A request with none of these set ends the call with
//!   INVALID_ARGUMENT, as grpc-go does; a request that does not decode,
//!   with INTERNAL.
//!
//! When the client half-closes, the call ends with OK once every answer is
//! sent.
//!
//! Memory is bounded: at most [`max_calls`](ReflectionService::with_max_calls)
//! reflection calls are open at once over all connections (more are
//! refused with RESOURCE_EXHAUSTED), and a response refused because the
//! call's send buffer is full waits in a backlog of at most
//! [`max_backlog`](ReflectionService::with_max_backlog) responses, sent on
//! the call's [`Writable`](server::Event::Writable) event. A client that
//! keeps asking without reading the answers overflows it: the call ends
//! with RESOURCE_EXHAUSTED.
//!
//! ```
//! use std::time::Instant;
//! use grpc_sansio::services::reflection::{self, ReflectionService};
//! use grpc_sansio::server;
//!
//! let mut refl = ReflectionService::new();
//! // The application's own set (from grpc-sansio-build), then reflection's
//! // own, so that clients can describe the reflection service too.
//! // refl.add_file_descriptor_set(&include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"))[..])?;
//! refl.add_file_descriptor_set(reflection::FILE_DESCRIPTOR_SET).unwrap();
//!
//! let mut conn = server::Connection::new(server::Config::default(), Instant::now());
//! // In the connection's event loop, with 7 as this connection's id:
//! while let Some(event) = conn.poll_event() {
//!     if refl.handle_event(7, &mut conn, &event) {
//!         continue;
//!     }
//!     // … the application's own services …
//! }
//! ```
//!
//! [`add_file_descriptor_set`]: ReflectionService::add_file_descriptor_set
//! [`handle_event`]: ReflectionService::handle_event

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::codec;
use crate::grpc::{CallId, Code, Metadata, Status};
use crate::server;

mod index;

pub use index::DescriptorError;

/// The generated messages and stubs of package `grpc.reflection.v1`. The
/// service answers both packages with these messages.
#[allow(missing_docs)]
pub mod v1 {
    include!("generated/grpc.reflection.v1.rs");
}

/// The generated messages and stubs of package `grpc.reflection.v1alpha`,
/// for clients that speak it.
#[allow(missing_docs)]
pub mod v1alpha {
    include!("generated/grpc.reflection.v1alpha.rs");
}

use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;
use v1::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    ServerReflectionRequest, ServerReflectionResponse, ServiceResponse,
};

/// The encoded `google.protobuf.FileDescriptorSet` of
/// `grpc/reflection/v1/reflection.proto` and
/// `grpc/reflection/v1alpha/reflection.proto`, as the generator emits it:
/// register it so clients can describe the reflection services themselves.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/grpc.reflection.bin");

/// The full names of the two services a [`ReflectionService`] answers.
pub const SERVICE_NAMES: [&str; 2] = [
    v1::server_reflection::SERVICE_NAME,
    v1alpha::server_reflection::SERVICE_NAME,
];

/// Open reflection calls allowed by default, over all connections.
pub const DEFAULT_MAX_CALLS: usize = 1000;

/// Responses a call may hold back by default while its send buffer is
/// full.
pub const DEFAULT_MAX_BACKLOG: usize = 8;

/// A reflection call in progress.
#[derive(Debug, Default)]
struct Call {
    /// Encoded responses refused by a full send buffer, oldest first.
    backlog: VecDeque<Bytes>,
    /// The client sent its last request: end the call once the backlog is
    /// sent.
    half_closed: bool,
}

/// The reflection service; see the [module](self) documentation.
#[derive(Debug)]
pub struct ReflectionService {
    index: index::Index,
    /// What `list_services` answers when the application named it.
    listed: Option<Vec<String>>,
    /// Reflection calls by (connection id, call).
    calls: BTreeMap<(u64, CallId), Call>,
    max_calls: usize,
    max_backlog: usize,
}

impl Default for ReflectionService {
    fn default() -> Self {
        ReflectionService::new()
    }
}

impl ReflectionService {
    /// No file registered (every lookup is NOT_FOUND, `list_services` is
    /// empty), at most [`DEFAULT_MAX_CALLS`] calls and
    /// [`DEFAULT_MAX_BACKLOG`] held-back responses per call.
    pub fn new() -> ReflectionService {
        ReflectionService {
            index: index::Index::default(),
            listed: None,
            calls: BTreeMap::new(),
            max_calls: DEFAULT_MAX_CALLS,
            max_backlog: DEFAULT_MAX_BACKLOG,
        }
    }

    /// Sets how many reflection calls may be open at once, over all
    /// connections; further ones are refused with RESOURCE_EXHAUSTED.
    pub fn with_max_calls(mut self, max: usize) -> ReflectionService {
        self.max_calls = max;
        self
    }

    /// Sets how many responses a call may hold back while its send buffer
    /// is full; one more ends the call with RESOURCE_EXHAUSTED.
    pub fn with_max_backlog(mut self, max: usize) -> ReflectionService {
        self.max_backlog = max;
        self
    }

    /// Registers the files of an encoded `google.protobuf.FileDescriptorSet`
    /// (grpc-sansio-build's `file_descriptor_set.bin`, `protoc
    /// --descriptor_set_out --include_imports`, or a `FILE_DESCRIPTOR_SET`
    /// constant of this crate). Each file is kept and served as its
    /// original bytes, a zero-copy slice of `set` (a `&'static [u8]`,
    /// `Vec<u8>` or `Bytes`; a borrowed slice goes through
    /// `Bytes::copy_from_slice`).
    ///
    /// Sets may share files (common imports): a file registered again with
    /// the same bytes is skipped. A file registered again with other bytes,
    /// or a symbol or extension declared by two different files, is an
    /// error, as is a set that does not decode. Registration is all or
    /// nothing: after an error nothing of `set` is registered. (A file
    /// compiled twice by different compilers, or with and without source
    /// info, has other bytes: if the application's set already holds, say,
    /// `grpc/health/v1/health.proto`, register that set and not
    /// `services::health::FILE_DESCRIPTOR_SET` too.)
    pub fn add_file_descriptor_set(
        &mut self,
        set: impl Into<Bytes>,
    ) -> Result<(), DescriptorError> {
        self.index.add_set(set.into())
    }

    /// Sets the services `list_services` answers: exactly these full names
    /// (`package.Service`), sorted, whether or not a registered file
    /// declares them — as grpc-go lists the services registered on the
    /// server. Include [`SERVICE_NAMES`] to list the reflection services
    /// too. Without this call, every service declared by a registered file
    /// is listed (the reflection services among them once
    /// [`FILE_DESCRIPTOR_SET`] is registered); use it when the registered
    /// sets declare services the server does not serve.
    pub fn set_services<I, S>(&mut self, names: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort();
        names.dedup();
        self.listed = Some(names);
    }

    /// The full names `list_services` answers, sorted.
    pub fn services(&self) -> Vec<&str> {
        match &self.listed {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => self.index.services().collect(),
        }
    }

    /// Whether a call's path is this service's method (either package).
    pub fn handles(path: &str) -> bool {
        v1::server_reflection::route(path).is_some()
            || v1alpha::server_reflection::route(path).is_some()
    }

    /// Reflection calls open, over all connections.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Takes an event of connection `conn_id`. Returns true when it was a
    /// reflection call's (the application then ignores it); false for
    /// anything else. A [`Closed`](server::Event::Closed) event forgets the
    /// connection's reflection calls and returns false.
    pub fn handle_event(
        &mut self,
        conn_id: u64,
        conn: &mut server::Connection,
        event: &server::Event,
    ) -> bool {
        match event {
            server::Event::Call { call, path, .. } => {
                if !Self::handles(path) {
                    return false;
                }
                if self.calls.len() >= self.max_calls {
                    let _ = conn.reject(
                        *call,
                        Status::resource_exhausted("too many reflection calls"),
                    );
                } else {
                    self.calls.insert((conn_id, *call), Call::default());
                }
                true
            }
            server::Event::Message { call, data } => {
                if !self.calls.contains_key(&(conn_id, *call)) {
                    return false;
                }
                match codec::decode::<ServerReflectionRequest>(data.clone()) {
                    Ok(request) => match self.answer(request) {
                        Ok(response) => self.send(conn_id, conn, *call, codec::encode(&response)),
                        Err(status) => self.end(conn_id, conn, *call, status),
                    },
                    Err(status) => self.end(conn_id, conn, *call, status),
                }
                true
            }
            server::Event::HalfClose { call } => match self.calls.get_mut(&(conn_id, *call)) {
                Some(c) => {
                    c.half_closed = true;
                    if c.backlog.is_empty() {
                        self.end(conn_id, conn, *call, Status::ok());
                    }
                    true
                }
                None => false,
            },
            server::Event::Writable { call } => {
                if !self.calls.contains_key(&(conn_id, *call)) {
                    return false;
                }
                self.flush(conn_id, conn, *call);
                true
            }
            server::Event::Cancelled { call, .. } => self.calls.remove(&(conn_id, *call)).is_some(),
            server::Event::Closed { .. } => {
                self.calls.retain(|&(c, _), _| c != conn_id);
                false
            }
            server::Event::GoAway { .. } => false,
        }
    }

    /// The response to one request; a status ends the call instead.
    fn answer(&self, request: ServerReflectionRequest) -> Result<ServerReflectionResponse, Status> {
        let files = |found: Option<Vec<Bytes>>, what: String| match found {
            Some(files) => MessageResponse::FileDescriptorResponse(FileDescriptorResponse {
                file_descriptor_proto: files,
            }),
            None => not_found(what),
        };
        let response = match &request.message_request {
            None => {
                return Err(Status::invalid_argument(
                    "invalid reflection request: no message_request set",
                ));
            }
            Some(MessageRequest::ListServices(_)) => {
                MessageResponse::ListServicesResponse(ListServiceResponse {
                    service: self
                        .services()
                        .into_iter()
                        .map(|name| ServiceResponse { name: name.into() })
                        .collect(),
                })
            }
            Some(MessageRequest::FileByFilename(name)) => files(
                self.index.file_by_name(name),
                format!("file {name:?} not found"),
            ),
            Some(MessageRequest::FileContainingSymbol(symbol)) => files(
                self.index.file_containing_symbol(symbol),
                format!("symbol {symbol:?} not found"),
            ),
            Some(MessageRequest::FileContainingExtension(ext)) => files(
                self.index
                    .file_containing_extension(&ext.containing_type, ext.extension_number),
                format!(
                    "extension {} of {:?} not found",
                    ext.extension_number, ext.containing_type
                ),
            ),
            Some(MessageRequest::AllExtensionNumbersOfType(name)) => {
                match self.index.extension_numbers(name) {
                    Some(numbers) => {
                        MessageResponse::AllExtensionNumbersResponse(ExtensionNumberResponse {
                            base_type_name: name.clone(),
                            extension_number: numbers,
                        })
                    }
                    None => not_found(format!("message type {name:?} not found")),
                }
            }
        };
        Ok(ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(response),
        })
    }

    /// Sends a response, or holds it back behind earlier ones.
    fn send(&mut self, conn_id: u64, conn: &mut server::Connection, call: CallId, response: Bytes) {
        let Some(c) = self.calls.get_mut(&(conn_id, call)) else {
            return;
        };
        let refused = if c.backlog.is_empty() {
            match conn.send_message(call, response.clone()) {
                Ok(()) => return,
                Err(server::CallError::Blocked) => true,
                Err(_) => {
                    // The call is gone.
                    self.calls.remove(&(conn_id, call));
                    return;
                }
            }
        } else {
            false
        };
        if c.backlog.len() < self.max_backlog {
            c.backlog.push_back(response);
            return;
        }
        let status = if refused {
            Status::resource_exhausted("reflection response not sent: send buffer full")
        } else {
            Status::resource_exhausted("reflection responses not read: too many held back")
        };
        self.end(conn_id, conn, call, status);
    }

    /// Sends held-back responses while the call takes them; ends the call
    /// if the client half-closed and everything is sent.
    fn flush(&mut self, conn_id: u64, conn: &mut server::Connection, call: CallId) {
        let Some(c) = self.calls.get_mut(&(conn_id, call)) else {
            return;
        };
        while let Some(next) = c.backlog.front() {
            match conn.send_message(call, next.clone()) {
                Ok(()) => {
                    c.backlog.pop_front();
                }
                Err(server::CallError::Blocked) => return,
                Err(_) => {
                    self.calls.remove(&(conn_id, call));
                    return;
                }
            }
        }
        if c.half_closed {
            self.end(conn_id, conn, call, Status::ok());
        }
    }

    /// Ends a call with `status` and forgets it.
    fn end(&mut self, conn_id: u64, conn: &mut server::Connection, call: CallId, status: Status) {
        let _ = conn.finish(call, status, &Metadata::new());
        self.calls.remove(&(conn_id, call));
    }
}

/// An `error_response` with NOT_FOUND.
fn not_found(message: String) -> MessageResponse {
    MessageResponse::ErrorResponse(ErrorResponse {
        error_code: Code::NotFound.as_i32(),
        error_message: message,
    })
}
