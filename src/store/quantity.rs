//! Quantity normalisation as an API server does it, through the shared quantity parser.

use crate::values::parse_quantity;

/// The exact value of a quantity in nano-units, or `None` when it is not a quantity.
pub(crate) fn quantity_nanos(s: &str) -> Option<i128> {
    parse_quantity(s).ok().map(|q| q.nanos())
}

/// The Kubernetes canonical form of a quantity (`1000m` -> `1`, `2048Mi` -> `2Gi`).
pub(crate) fn canonical_quantity(s: &str) -> Option<String> {
    parse_quantity(s).ok().map(|q| q.canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_match_the_api_server() {
        for (input, want) in [
            ("1000m", "1"),
            ("2048Mi", "2Gi"),
            ("0.5", "500m"),
            ("10Gi", "10Gi"),
            ("1.5Gi", "1536Mi"),
        ] {
            assert_eq!(canonical_quantity(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(quantity_nanos("1Gi"), quantity_nanos("1024Mi"));
        assert_eq!(canonical_quantity("8GB"), None);
    }
}
