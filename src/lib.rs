//! berth: tenants and backups as code for database platforms on Kubernetes.
//!
//! The pipeline, one module per stage, data flowing one way:
//! `source` -> `spec` -> `render` -> (`observe` -> `plan` -> `output` -> `apply`).
//! See ARCHITECTURE.md for the codemap and the invariants.

pub mod apply;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod daemon;
pub mod diag;
pub mod health;
pub mod object;
pub mod observe;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod printer;
pub mod render;
pub mod source;
pub mod spec;
pub mod status;
/// The object store of the embedded cluster: the `kube-store` crate, shared with the API emulator.
pub use kube_store as store;
pub mod synth;
pub mod values;
