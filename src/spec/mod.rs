//! Loading and validating specs: from source files to a validated [`model::Config`].

pub mod model;
pub mod types;
