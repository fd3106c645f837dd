//! The standard services on one server, as a sans-IO [`ServerApp`]: the
//! health service `grpc.health.v1.Health` and server reflection
//! (`grpc.reflection.v1` and `v1alpha`), which describes both. Shared by
//! `examples/standard_services.rs` and `tests/interop_services.rs`; the
//! health probe's logic is in [`probe`].
//!
//! One [`Services`] per server holds what every connection shares (the
//! health statuses, the registered descriptors); each connection gets a [`ServicesApp`] from
//! [`Services::app`]. A status change goes through
//! [`Services::set_status`], which wakes every connection so that its
//! watchers are sent the change ([`ServerApp::on_wake`] →
//! `HealthService::poll_updates`).

#![allow(dead_code)]

pub mod probe;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use grpc_sansio::codec;
use grpc_sansio::grpc::{CallId, Metadata, Status};
use grpc_sansio::server;
use grpc_sansio::services::health::v1::health;
use grpc_sansio::services::health::{self as health_service, HealthService, ServingStatus};
use grpc_sansio::services::reflection::{self, ReflectionService};

use crate::adapters::{Server, ServerApp, lock};

/// The full names of the services this server answers.
pub const SERVICE_NAMES: &[&str] = &[
    health::SERVICE_NAME,
    reflection::SERVICE_NAMES[0],
    reflection::SERVICE_NAMES[1],
];

/// Makes the application's own app for a connection (by id).
type MakeApp = Arc<dyn Fn(u64) -> Box<dyn ServerApp> + Send + Sync>;

/// What every connection of the server shares.
#[derive(Clone)]
pub struct Services {
    server: Server,
    health: Arc<Mutex<HealthService>>,
    reflection: Arc<Mutex<ReflectionService>>,
    /// Every name a status was set for, so that a shutdown can mark them
    /// all NOT_SERVING.
    names: Arc<Mutex<BTreeSet<String>>>,
    /// The services served besides health and reflection.
    app_services: Vec<&'static str>,
    /// Their app, for each connection.
    make_app: Option<MakeApp>,
}

impl Services {
    /// The services of `server`: the server as a whole (`""`) and each of
    /// [`SERVICE_NAMES`] are SERVING; reflection describes the health and
    /// reflection services (their descriptor sets, from this crate).
    pub fn new(server: Server) -> Services {
        let mut reflection = ReflectionService::new();
        for set in [
            health_service::FILE_DESCRIPTOR_SET,
            reflection::FILE_DESCRIPTOR_SET,
        ] {
            // This crate's own sets: they decode and do not clash.
            reflection
                .add_file_descriptor_set(set)
                .expect("the crate's descriptor sets register");
        }
        reflection.set_services(SERVICE_NAMES.iter().copied());
        let services = Services {
            server,
            health: Arc::new(Mutex::new(HealthService::new())),
            reflection: Arc::new(Mutex::new(reflection)),
            names: Arc::new(Mutex::new(BTreeSet::new())),
            app_services: Vec::new(),
            make_app: None,
        };
        services.set_status("", ServingStatus::Serving);
        for name in SERVICE_NAMES {
            services.set_status(name, ServingStatus::Serving);
        }
        services
    }

    /// Serves the application's own services too, next to the standard
    /// ones: calls health and reflection do not take go to the app that
    /// `make_app` gives each connection; reflection describes the services
    /// from `descriptor_set` (with their dependencies), and each is
    /// SERVING.
    pub fn with_app<A: ServerApp>(
        mut self,
        descriptor_set: &'static [u8],
        names: &[&'static str],
        make_app: impl Fn(u64) -> A + Send + Sync + 'static,
    ) -> Services {
        {
            let mut reflection = lock(&self.reflection);
            reflection
                .add_file_descriptor_set(descriptor_set)
                .expect("the application's descriptor set registers");
            reflection.set_services(SERVICE_NAMES.iter().chain(names).copied());
        }
        self.app_services = names.to_vec();
        self.make_app = Some(Arc::new(move |id| {
            Box::new(make_app(id)) as Box<dyn ServerApp>
        }));
        for name in names {
            self.set_status(name, ServingStatus::Serving);
        }
        self
    }

    /// Every service served, standard ones first.
    pub fn service_names(&self) -> Vec<&'static str> {
        SERVICE_NAMES
            .iter()
            .chain(&self.app_services)
            .copied()
            .collect()
    }

    /// The adapter's server handle.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Sets the health status of `service` and wakes every connection so
    /// that its `Watch` calls see it.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        lock(&self.health).set_serving_status(service, status);
        lock(&self.names).insert(service.to_string());
        self.server.wake_all();
    }

    /// The health status of `service`, if set.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        lock(&self.health).serving_status(service)
    }

    /// Graceful shutdown: every service becomes NOT_SERVING (watchers are
    /// told), then open `Watch` calls end with UNAVAILABLE and the
    /// connections drain (GOAWAY).
    pub fn shutdown(&self) {
        {
            let mut health = lock(&self.health);
            for name in lock(&self.names).iter() {
                health.set_serving_status(name, ServingStatus::NotServing);
            }
        }
        self.server.shutdown();
    }

    /// The app of a new connection with id `conn_id`.
    pub fn app(&self, conn_id: u64) -> ServicesApp {
        ServicesApp {
            id: conn_id,
            services: self.clone(),
            watches: BTreeSet::new(),
            watches_ended: false,
            app: self.make_app.as_ref().map(|make| make(conn_id)),
        }
    }
}

/// One connection's side of [`Services`].
pub struct ServicesApp {
    id: u64,
    services: Services,
    /// The connection's open health `Watch` calls, ended at shutdown (a
    /// watch never ends by itself, and would hold the drain up).
    watches: BTreeSet<CallId>,
    watches_ended: bool,
    /// The application's own services, if any.
    app: Option<Box<dyn ServerApp>>,
}

impl ServerApp for ServicesApp {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event, now: Instant) {
        match &event {
            server::Event::Call { call, path, .. } if path == health::WATCH.path => {
                self.watches.insert(*call);
            }
            server::Event::Cancelled { call, .. } => {
                self.watches.remove(call);
            }
            _ => {}
        }
        if lock(&self.services.health).handle_event(self.id, conn, &event)
            || lock(&self.services.reflection).handle_event(self.id, conn, &event)
        {
            return;
        }
        if let Some(app) = &mut self.app {
            // The application's services route (and reject) the rest.
            app.on_event(conn, event, now);
            return;
        }
        // Not a call of ours: UNIMPLEMENTED, in one Trailers-Only reply.
        // Other events are of calls already answered, GOAWAY, Closed.
        if let server::Event::Call { call, path, .. } = event {
            let _ = conn.reject(call, codec::route_unimplemented(&path, SERVICE_NAMES));
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.app.as_ref().and_then(|a| a.poll_timeout())
    }

    fn on_timeout(&mut self, conn: &mut server::Connection, now: Instant) {
        if let Some(app) = &mut self.app {
            app.on_timeout(conn, now);
        }
    }

    fn on_wake(&mut self, conn: &mut server::Connection, now: Instant) {
        if let Some(app) = &mut self.app {
            app.on_wake(conn, now);
        }
        lock(&self.services.health).poll_updates(self.id, conn);
        if self.services.server.is_shutting_down() && !self.watches_ended {
            self.watches_ended = true;
            for call in std::mem::take(&mut self.watches) {
                let status = Status::unavailable("server shutting down");
                let _ = conn.finish(call, status, &Metadata::new());
            }
        }
    }
}
