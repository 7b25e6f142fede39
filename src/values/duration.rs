//! Placeholder until the duration parser lands.
/// Why a text is not a duration.
#[derive(Debug, Clone)]
pub struct DurationError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}
/// Parses a duration.
pub fn parse_duration(_s: &str) -> Result<u64, DurationError> {
    Ok(0)
}
