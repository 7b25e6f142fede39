//! berth: tenants and backups as code for database platforms on Kubernetes.
//!
//! The pipeline, one module per stage, data flowing one way:
//! `source` -> `spec` -> `render` -> (`observe` -> `plan` -> `output` -> `apply`).
//! See ARCHITECTURE.md for the codemap and the invariants.

pub modpub mod apiserver;
pub modpub mod cli;
pub modpub mod commands;
pub modpub mod diag;
pub modpub mod object;
pub modpub mod printer;
pub modpub mod render;
pub modpub mod source;
pub modpub mod spec;
pub modpub mod store;
pub modpub mod synth;
pub modpub mod values;
