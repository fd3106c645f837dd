//! The standard health-checking service `grpc.health.v1.Health` (grpc/grpc
//! `doc/health-checking.md`), sans-IO.
//!
//! A [`HealthService`] holds the serving status of the server (the empty
//! service name `""`) and of its services, and answers the service's calls
//! on any number of [`server::Connection`]s. The application keeps it next
//! to its connections, names each connection with an id of its choosing
//! (unique among the connections the service sees), and:
//!
//! 1. passes every server event to [`HealthService::handle_event`] first;
//!    when it returns true the event was a health call's and is handled;
//! 2. after changing statuses ([`set_serving_status`], [`clear`]), calls
//!    [`poll_updates`] for each connection: every `Watch` call on it whose
//!    service's status differs from the last one it was sent gets the
//!    current one.
//!
//! `poll_updates` sends only differences, so calling it more often than
//! needed is harmless, and a change made and undone between two calls of it
//! sends nothing (a watcher sees the latest status, not every step, as
//! grpc-go's does). A `Watch` message refused because the call's send buffer
//! is full is sent again on the call's [`Writable`](server::Event::Writable)
//! event or the next `poll_updates`.
//!
//! `Check` answers the status, or NOT_FOUND for a service never set (or
//! cleared). `Watch` sends the status at once (SERVICE_UNKNOWN for an
//! unknown service, the call staying open), then each change until the
//! client cancels. At most [`max_watchers`](HealthService::with_max_watchers)
//! `Watch` calls are open at once over all connections; more are refused
//! with RESOURCE_EXHAUSTED.
//!
//! ```
//! use std::time::Instant;
//! use grpc_sansio::services::health::{HealthService, ServingStatus};
//! use grpc_sansio::server;
//!
//! let mut health = HealthService::new();
//! health.set_serving_status("", ServingStatus::Serving);
//! let mut conn = server::Connection::new(server::Config::default(), Instant::now());
//! // In the connection's event loop, with 7 as this connection's id:
//! while let Some(event) = conn.poll_event() {
//!     if health.handle_event(7, &mut conn, &event) {
//!         continue;
//!     }
//!     // … the application's own services …
//! }
//! // After a status change, for each connection:
//! health.set_serving_status("shop.Cart", ServingStatus::NotServing);
//! health.poll_updates(7, &mut conn);
//! ```
//!
//! [`set_serving_status`]: HealthService::set_serving_status
//! [`clear`]: HealthService::clear
//! [`poll_updates`]: HealthService::poll_updates

use std::collections::BTreeMap;

use crate::grpc::{CallId, Metadata, Status};
use crate::server;

/// The generated messages and stubs of package `grpc.health.v1`.
#[allow(missing_docs)]
pub mod v1 {
    include!("generated/grpc.health.v1.rs");
}

/// The encoded `google.protobuf.FileDescriptorSet` of
/// `grpc/health/v1/health.proto`, as the generator emits it: register it
/// with the reflection service so clients can describe `grpc.health.v1.Health`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/grpc.health.v1.bin");

use v1::health::{HealthMethod, HealthRequest, HealthServer};
pub use v1::health_check_response::ServingStatus;
use v1::{HealthCheckRequest, HealthCheckResponse};

/// Open `Watch` calls allowed by default, over all connections.
pub const DEFAULT_MAX_WATCHERS: usize = 1000;

/// A health call in progress: a `Check` waiting for its request, or a
/// `Watch` (its service once the request came, and what it was last sent).
#[derive(Debug)]
enum Call {
    Check,
    Watch {
        service: Option<String>,
        sent: Option<ServingStatus>,
    },
}

/// The health-checking service; see the [module](self) documentation.
#[derive(Debug)]
pub struct HealthService {
    statuses: BTreeMap<String, ServingStatus>,
    /// Health calls by (connection id, call).
    calls: BTreeMap<(u64, CallId), Call>,
    watchers: usize,
    max_watchers: usize,
}

impl Default for HealthService {
    fn default() -> Self {
        HealthService::new()
    }
}

impl HealthService {
    /// No status known (every `Check` is NOT_FOUND until statuses are set),
    /// at most [`DEFAULT_MAX_WATCHERS`] watchers.
    pub fn new() -> HealthService {
        HealthService {
            statuses: BTreeMap::new(),
            calls: BTreeMap::new(),
            watchers: 0,
            max_watchers: DEFAULT_MAX_WATCHERS,
        }
    }

    /// Sets how many `Watch` calls may be open at once, over all
    /// connections; further ones are refused with RESOURCE_EXHAUSTED.
    pub fn with_max_watchers(mut self, max: usize) -> HealthService {
        self.max_watchers = max;
        self
    }

    /// Sets the status of `service` (`""`: the server as a whole). Setting
    /// [`ServingStatus::ServiceUnknown`] is [`clear`](Self::clear). Watchers
    /// see the change at the next [`poll_updates`](Self::poll_updates) of
    /// their connection.
    pub fn set_serving_status(&mut self, service: &str, status: ServingStatus) {
        if status == ServingStatus::ServiceUnknown {
            self.clear(service);
        } else {
            self.statuses.insert(service.to_string(), status);
        }
    }

    /// Forgets `service`: `Check` answers NOT_FOUND for it again, and its
    /// watchers are sent SERVICE_UNKNOWN at the next
    /// [`poll_updates`](Self::poll_updates).
    pub fn clear(&mut self, service: &str) {
        self.statuses.remove(service);
    }

    /// The status of `service`, if set.
    pub fn serving_status(&self, service: &str) -> Option<ServingStatus> {
        self.statuses.get(service).copied()
    }

    /// Whether a call's path is one of this service's methods.
    pub fn handles(path: &str) -> bool {
        v1::health::route(path).is_some()
    }

    /// `Watch` calls open, over all connections.
    pub fn watchers(&self) -> usize {
        self.watchers
    }

    /// Takes an event of connection `conn_id`. Returns true when it was a
    /// health call's (the application then ignores it); false for anything
    /// else. A [`Closed`](server::Event::Closed) event forgets the
    /// connection's health calls and returns false.
    pub fn handle_event(
        &mut self,
        conn_id: u64,
        conn: &mut server::Connection,
        event: &server::Event,
    ) -> bool {
        match event {
            server::Event::Call { call, path, .. } => match v1::health::route(path) {
                Some(method) => {
                    self.on_call(conn_id, conn, *call, method);
                    true
                }
                None => false,
            },
            server::Event::Message { call, data } => {
                let key = (conn_id, *call);
                let Some(c) = self.calls.get(&key) else {
                    return false;
                };
                let method = match c {
                    Call::Check => HealthMethod::Check,
                    Call::Watch { .. } => HealthMethod::Watch,
                };
                match HealthRequest::decode(method, data.clone()) {
                    Ok(HealthRequest::Check(req)) => self.check(conn_id, conn, *call, &req),
                    Ok(HealthRequest::Watch(req)) => self.watch(conn_id, conn, *call, req),
                    Err(status) => self.end(conn_id, conn, *call, status),
                }
                true
            }
            server::Event::HalfClose { call } => {
                let key = (conn_id, *call);
                match self.calls.get(&key) {
                    // Half-closed without its request.
                    Some(Call::Check) | Some(Call::Watch { service: None, .. }) => {
                        self.end(conn_id, conn, *call, Status::internal("no request message"));
                        true
                    }
                    // A watch goes on after the client's half-close.
                    Some(Call::Watch { .. }) => true,
                    None => false,
                }
            }
            server::Event::Writable { call } => {
                if !self.calls.contains_key(&(conn_id, *call)) {
                    return false;
                }
                self.update(conn_id, conn, *call);
                true
            }
            server::Event::Cancelled { call, .. } => self.forget(conn_id, *call),
            server::Event::Closed { .. } => {
                let ours: Vec<CallId> = self
                    .calls
                    .range((conn_id, CallId(0))..=(conn_id, CallId(u64::MAX)))
                    .map(|((_, call), _)| *call)
                    .collect();
                for call in ours {
                    self.forget(conn_id, call);
                }
                false
            }
            server::Event::GoAway { .. } => false,
        }
    }

    /// Sends each `Watch` call of connection `conn_id` whose service's
    /// status changed since it was last sent the current status.
    pub fn poll_updates(&mut self, conn_id: u64, conn: &mut server::Connection) {
        let ours: Vec<CallId> = self
            .calls
            .range((conn_id, CallId(0))..=(conn_id, CallId(u64::MAX)))
            .map(|((_, call), _)| *call)
            .collect();
        for call in ours {
            self.update(conn_id, conn, call);
        }
    }

    fn on_call(
        &mut self,
        conn_id: u64,
        conn: &mut server::Connection,
        call: CallId,
        method: HealthMethod,
    ) {
        let state = match method {
            HealthMethod::Check => Call::Check,
            HealthMethod::Watch => {
                if self.watchers >= self.max_watchers {
                    let _ =
                        conn.reject(call, Status::resource_exhausted("too many health watchers"));
                    return;
                }
                self.watchers += 1;
                Call::Watch {
                    service: None,
                    sent: None,
                }
            }
        };
        self.calls.insert((conn_id, call), state);
    }

    fn check(
        &mut self,
        conn_id: u64,
        conn: &mut server::Connection,
        call: CallId,
        req: &HealthCheckRequest,
    ) {
        let status = match self.statuses.get(&req.service) {
            Some(&s) => {
                let response = HealthCheckResponse { status: s as i32 };
                match HealthServer::respond_check(conn, call, &response) {
                    Ok(()) => Status::ok(),
                    // A fresh call's send buffer takes one small message;
                    // refused, the call is gone or stuck.
                    Err(_) => Status::unavailable("health response not sent"),
                }
            }
            None => Status::not_found(format!("unknown service {:?}", req.service)),
        };
        self.end(conn_id, conn, call, status);
    }

    fn watch(
        &mut self,
        conn_id: u64,
        conn: &mut server::Connection,
        call: CallId,
        req: HealthCheckRequest,
    ) {
        match self.calls.get_mut(&(conn_id, call)) {
            Some(Call::Watch { service, .. }) if service.is_none() => {
                *service = Some(req.service);
                self.update(conn_id, conn, call);
            }
            // A second request on a server-streaming call.
            _ => self.end(
                conn_id,
                conn,
                call,
                Status::internal("more than one request message"),
            ),
        }
    }

    /// Sends a watcher the current status of its service if it changed.
    fn update(&mut self, conn_id: u64, conn: &mut server::Connection, call: CallId) {
        let Some(Call::Watch {
            service: Some(service),
            sent,
        }) = self.calls.get_mut(&(conn_id, call))
        else {
            return;
        };
        let now = self
            .statuses
            .get(service.as_str())
            .copied()
            .unwrap_or(ServingStatus::ServiceUnknown);
        if *sent == Some(now) {
            return;
        }
        let response = HealthCheckResponse { status: now as i32 };
        match HealthServer::respond_watch(conn, call, &response) {
            Ok(()) => *sent = Some(now),
            // Sent again on Writable or the next poll.
            Err(server::CallError::Blocked) => {}
            Err(_) => {
                self.forget(conn_id, call);
            }
        }
    }

    /// Ends a call with `status` and forgets it.
    fn end(&mut self, conn_id: u64, conn: &mut server::Connection, call: CallId, status: Status) {
        let _ = conn.finish(call, status, &Metadata::new());
        self.forget(conn_id, call);
    }

    /// Forgets a call; returns whether it was ours.
    fn forget(&mut self, conn_id: u64, call: CallId) -> bool {
        match self.calls.remove(&(conn_id, call)) {
            Some(Call::Watch { .. }) => {
                self.watchers -= 1;
                true
            }
            Some(Call::Check) => true,
            None => false,
        }
    }
}
