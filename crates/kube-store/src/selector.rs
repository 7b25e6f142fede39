//! Label selectors in their string form (`app=db,tier!=cache,env in (a,b),!legacy`).

use std::fmt;

use serde_json::{Map, Value};

/// What a requirement asks of one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value`: the label is absent or has another value.
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// What is asked of it.
    pub op: Op,
    /// Values for `=`, `!=` (one), `in`, `notin` (one or more).
    pub values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels.get(&self.key).and_then(Value::as_str);
        match self.op {
            Op::Equals | Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotEquals | Op::NotIn => !value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
        }
    }
}

/// A label selector: all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// The requirements, in the order written.
    pub requirements: Vec<Requirement>,
}

/// Why a selector string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Whether this selector matches every object.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses the string form. An empty or blank string selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for part in split_top_level(s)? {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError(format!("empty requirement in {s:?}")));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    /// The selector of a `metav1.LabelSelector` object (a StatefulSet's `spec.selector`), as
    /// `LabelSelectorAsSelector` (`apimachinery/pkg/apis/meta/v1/helpers.go`) builds it:
    /// `matchLabels` as `key=value`, then `matchExpressions` with the operators `In`, `NotIn`,
    /// `Exists` and `DoesNotExist`. An absent or empty object selects everything, as there;
    /// the error words what it refuses as the real one does.
    pub fn from_object(selector: &Value) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        if selector.is_null() {
            return Ok(Self { requirements });
        }
        if let Some(labels) = selector.get("matchLabels").filter(|l| !l.is_null()) {
            let labels = labels
                .as_object()
                .ok_or_else(|| SelectorError("matchLabels must be a map of strings".into()))?;
            for (k, v) in labels {
                let v = v.as_str().ok_or_else(|| {
                    SelectorError(format!("matchLabels: the value of {k:?} is not a string"))
                })?;
                requirements.push(Requirement {
                    key: k.clone(),
                    op: Op::Equals,
                    values: vec![v.to_string()],
                });
            }
        }
        let exprs = selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let operator = e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let op = match operator {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{other:?} is not a valid label selector operator"
                    )))
                }
            };
            let listed = matches!(op, Op::In | Op::NotIn);
            if listed && values.is_empty() {
                return Err(SelectorError(
                    "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into(),
                ));
            }
            if !listed && !values.is_empty() {
                return Err(SelectorError(format!(
                    "values: Invalid value: {values:?}: values set must be empty for exists and does not exist"
                )));
            }
            requirements.push(Requirement {
                key: key.to_string(),
                op,
                values,
            });
        }
        Ok(Self { requirements })
    }

    /// Whether an object with these labels (`metadata.labels`) is selected.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let empty = Map::new();
        let labels = labels.unwrap_or(&empty);
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether this object is selected by its `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(
            obj.get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object),
        )
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r.op {
                Op::Equals => format!("{}={}", r.key, r.values.join("")),
                Op::NotEquals => format!("{}!={}", r.key, r.values.join("")),
                Op::In => format!("{} in ({})", r.key, r.values.join(",")),
                Op::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Op::Exists => r.key.clone(),
                Op::DoesNotExist => format!("!{}", r.key),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn split_top_level(s: &str) -> Result<Vec<&str>, SelectorError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => {
                if depth > 0 {
                    return Err(SelectorError(format!("nested parentheses in {s:?}")));
                }
                depth += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err(SelectorError(format!("unbalanced ')' in {s:?}")));
                }
                depth -= 1;
            }
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SelectorError(format!("unbalanced '(' in {s:?}")));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty()
            || p.len() > 253
            || !p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return false;
        }
    }
    valid_label_value(name) && !name.is_empty()
}

/// Whether `v` is a valid label value (or the name part of a key): at most 63 characters,
/// alphanumerics, `-`, `_`, `.`, beginning and ending with an alphanumeric.
pub fn valid_label_value(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    let bad = |why: &str| SelectorError(format!("{part:?}: {why}"));
    let check_key = |key: &str| {
        if valid_key(key) {
            Ok(key.to_string())
        } else {
            Err(bad("invalid label key"))
        }
    };
    let check_value = |v: &str| {
        if valid_label_value(v) {
            Ok(v.to_string())
        } else {
            Err(bad("invalid label value"))
        }
    };
    if let Some(rest) = part.strip_prefix('!') {
        let key = rest.trim();
        return Ok(Requirement {
            key: check_key(key)?,
            op: Op::DoesNotExist,
            values: vec![],
        });
    }
    for (token, op) in [("!=", Op::NotEquals), ("==", Op::Equals), ("=", Op::Equals)] {
        if let Some((key, value)) = part.split_once(token) {
            let value = value.trim();
            if value.contains(['=', '!', '(', ')', ' ']) {
                return Err(bad("invalid label value"));
            }
            return Ok(Requirement {
                key: check_key(key.trim())?,
                op,
                values: vec![check_value(value)?],
            });
        }
    }
    // `key in (a,b)`, `key notin (a,b)` or `key`.
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or("").trim();
    let rest = words.next().unwrap_or("").trim();
    if rest.is_empty() {
        if key.contains(['(', ')']) {
            return Err(bad("expected a key"));
        }
        return Ok(Requirement {
            key: check_key(key)?,
            op: Op::Exists,
            values: vec![],
        });
    }
    let (op, set) = if let Some(set) = rest.strip_prefix("notin") {
        (Op::NotIn, set)
    } else if let Some(set) = rest.strip_prefix("in") {
        (Op::In, set)
    } else {
        return Err(bad("expected one of '=', '==', '!=', 'in', 'notin'"));
    };
    let set = set.trim();
    let inner = set
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| bad("expected '(' values ')'"))?;
    let values = inner
        .split(',')
        .map(|v| check_value(v.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() || (values.len() == 1 && values[0].is_empty() && inner.trim().is_empty()) {
        return Err(bad(
            "for 'in', 'notin' operators, values set can't be empty",
        ));
    }
    Ok(Requirement {
        key: check_key(key)?,
        op,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parses_every_operator() {
        let s = LabelSelector::parse("a=1, b==2,c!=3,d in (x, y),e notin (z),f,!g").unwrap();
        let ops: Vec<Op> = s.requirements.iter().map(|r| r.op.clone()).collect();
        assert_eq!(
            ops,
            vec![
                Op::Equals,
                Op::Equals,
                Op::NotEquals,
                Op::In,
                Op::NotIn,
                Op::Exists,
                Op::DoesNotExist
            ]
        );
        assert_eq!(s.requirements[3].values, vec!["x", "y"]);
        assert_eq!(s.to_string(), "a=1,b=2,c!=3,d in (x,y),e notin (z),f,!g");
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("  ").unwrap().is_empty());
        assert!(LabelSelector::parse("app.kubernetes.io/name=db").is_ok());
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "a in (x", "a in x", "a=(b)", "=x", "a,,b", "a b c", "a in ()", "A B", "a=b=c", "-a",
            "a notin",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn matches_labels() {
        let l = labels(json!({"app": "db", "tier": "main"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(m("app=db"));
        assert!(m("app==db,tier=main"));
        assert!(!m("app=web"));
        assert!(m("app!=web"));
        assert!(m("missing!=x"));
        assert!(m("app in (web,db)"));
        assert!(!m("app notin (web,db)"));
        assert!(m("missing notin (x)"));
        assert!(m("tier"));
        assert!(!m("!tier"));
        assert!(m("!missing"));
        assert!(m(""));
        assert!(LabelSelector::parse("!x").unwrap().matches(None));
        assert!(!LabelSelector::parse("x").unwrap().matches(None));
    }
}
