//! Kubernetes naming rules, with messages that say how to fix a bad name.

/// Why `name` is not a DNS-1123 label (lowercase alphanumerics and `-`, starting and ending
/// with an alphanumeric, at most `max` characters), or `None` when it is one.
pub fn dns_label_problem(name: &str, max: usize) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > max {
        return Some(format!(
            "is {} characters long, the limit is {max}",
            name.chars().count()
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("contains uppercase letters".to_string());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!("contains `{c}`; only a-z, 0-9 and `-` are allowed"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or digit".to_string());
    }
    None
}

/// Why `name` is not a DNS-1123 subdomain (labels joined by dots, at most 253 characters).
pub fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 253 {
        return Some(format!(
            "is {} characters long, the limit is 253",
            name.len()
        ));
    }
    for part in name.split('.') {
        if let Some(p) = dns_label_problem(part, 63) {
            return Some(p);
        }
    }
    None
}

/// A DNS label close to `name`: lowercased, other characters replaced by `-`.
pub fn suggest_label(name: &str, max: usize) -> Option<String> {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let s: String = s.chars().take(max).collect();
    let s = s.trim_end_matches('-').to_string();
    (!s.is_empty() && s != name).then_some(s)
}

/// Why `key` is not a valid label or annotation key (`[prefix/]name`).
pub fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if let Some(problem) = dns_subdomain_problem(p) {
            return Some(format!("its prefix `{p}` {problem}"));
        }
    }
    qualified_name_problem(name).map(|p| format!("its name part `{name}` {p}"))
}

fn qualified_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 63 {
        return Some(format!(
            "is {} characters long, the limit is 63",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Some(format!("contains `{c}`"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some("must start and end with a letter or digit".to_string());
    }
    None
}

/// Why `value` is not a valid label value.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    qualified_name_problem(value)
}

/// Namespaces that tenants may never use.
pub fn is_reserved_namespace(ns: &str) -> bool {
    matches!(ns, "default" | "berth-system")
        || ns.starts_with("kube-")
        || ns.starts_with("openshift")
}

/// Why `name` is not a plain SQL identifier.
pub fn sql_identifier_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 63 {
        return Some("is longer than 63 characters".to_string());
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        return Some("must start with a lowercase letter or `_`".to_string());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Some(format!("contains `{c}`; only a-z, 0-9 and `_` are allowed"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label_problem("acme-1", 63), None);
        assert!(dns_label_problem("Acme", 63).unwrap().contains("uppercase"));
        assert!(dns_label_problem("acme_1", 63).unwrap().contains("`_`"));
        assert!(dns_label_problem("-acme", 63).is_some());
        assert!(dns_label_problem(&"a".repeat(64), 63)
            .unwrap()
            .contains("64"));
        assert_eq!(suggest_label("Acme_Corp", 63).as_deref(), Some("acme-corp"));
    }

    #[test]
    fn label_keys() {
        assert_eq!(label_key_problem("team"), None);
        assert_eq!(label_key_problem("example.com/team"), None);
        assert!(label_key_problem("Example.com/team").is_some());
        assert!(label_key_problem("team name").is_some());
        assert_eq!(label_value_problem(""), None);
        assert!(label_value_problem("a b").is_some());
    }

    #[test]
    fn reserved() {
        assert!(is_reserved_namespace("kube-system"));
        assert!(is_reserved_namespace("default"));
        assert!(!is_reserved_namespace("tenant-acme"));
    }
}
