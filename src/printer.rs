//! The one place that writes user output. Commands hand it text; it decides about colour.
//! Operator logs go through `tracing` instead.

use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;

/// Writes user output to stdout and messages to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Whether stdout gets colours.
    pub color_out: bool,
    /// Whether stderr gets colours.
    pub color_err: bool,
    /// `-v`: output lists everything one by one (alike warnings of many tenants too).
    pub verbose: bool,
}

impl Printer {
    /// A printer honouring `--color` and `NO_COLOR`.
    pub fn new(choice: ColorChoice) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Printer {
            color_out: decide(std::io::stdout().is_terminal()),
            color_err: decide(std::io::stderr().is_terminal()),
            verbose: false,
        }
    }

    /// Writes to stdout. A closed pipe is not an error worth reporting.
    pub fn out(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Writes to stderr.
    pub fn err(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}
