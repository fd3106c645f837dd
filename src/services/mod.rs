//! Standard gRPC services, built on the sans-IO [`server`](crate::server)
//! and the generated stubs. Each is behind a cargo feature:
//!
//! - [`health`] (feature `health`): `grpc.health.v1.Health`.
//! - [`reflection`] (feature `reflection`):
//!   `grpc.reflection.v1.ServerReflection` and its older twin
//!   `grpc.reflection.v1alpha.ServerReflection`, answering from the encoded
//!   descriptor sets the application registers.
//!
//! Each is a plain value the application keeps next to its connections and
//! hands every server event to first (`handle_event(conn_id, &mut conn,
//! &event) -> bool`, true when the event was the service's); nothing is
//! shared, nothing runs on its own.
//!
//! Their protos are our own (`proto/grpc/…`, with upstream's wire
//! contract). Their generated code and encoded descriptor sets (each
//! service's `FILE_DESCRIPTOR_SET`, for reflection) are checked in under
//! `src/services/generated/`, so building this crate never runs the
//! generator; tests of `codegen/test-crate` keep them equal to the
//! generator's output.

#[cfg(feature = "health")]
pub mod health;

#[cfg(feature = "reflection")]
pub mod reflection;
