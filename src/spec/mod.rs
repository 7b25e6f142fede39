//! The `spec` stage: loading and validating specs, from source files to a validated
//! [`model::Config`]. No I/O: it works on the texts the `source` stage read.

pub mod load;
pub mod model;
pub mod names;
pub mod schema;
pub mod types;
pub mod validate;

pub use validate::{load_config, LoadOutput};
