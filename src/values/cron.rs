//! Placeholder until the cron parser lands.
use std::ops::Range;
/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule;
/// Why an expression is not a schedule.
#[derive(Debug, Clone)]
pub struct CronError {
    /// What is wrong.
    pub message: String,
    /// Where in the expression.
    pub span: Range<usize>,
    /// How to fix it.
    pub help: Option<String>,
}
/// Parses a cron expression.
pub fn parse_cron(_expr: &str) -> Result<CronSchedule, CronError> {
    Ok(CronSchedule)
}
