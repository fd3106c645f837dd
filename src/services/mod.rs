//! Standard gRPC services, built on the sans-IO [`server`](crate::server)
//! and the generated stubs. Each is behind a cargo feature:
//!
//! - [`health`] (feature `health`): `grpc.health.v1.Health`.
//!
//! Their generated code is checked in under `src/services/generated/`,
//! so building this crate never runs the generator; a test of
//! `codegen/test-crate` keeps it equal to the generator's output.

#[cfg(feature = "health")]
pub mod health;
