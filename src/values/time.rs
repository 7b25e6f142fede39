//! See values/mod.rs.
