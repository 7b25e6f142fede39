//! See values/mod.rs.

/// The exact value of a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParsedQuantity {
    nanos: i128,
}

/// Why a text is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    /// What is wrong.
    pub message: String,
    /// How to fix it, where known.
    pub help: Option<String>,
}

/// Parses a Kubernetes quantity.
pub fn parse_quantity(_s: &str) -> Result<ParsedQuantity, QuantityError> {
    Ok(ParsedQuantity { nanos: 0 })
}

impl ParsedQuantity {
    /// The exact value times 1e9.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }
}
