//! Kubernetes resource quantities (`k8s.io/apimachinery` `resource.Quantity`): exact values,
//! comparison by value and the canonical serialisation the API server writes back.
//!
//! Grammar: an optional sign, digits with an optional fraction (`1`, `1.5`, `.5`, `5.`) and an
//! optional suffix: binary `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`, or an exponent
//! such as `e3` or `E-2`. Like Kubernetes, values finer than a nano-unit are rounded up (away
//! from zero) to the next nano-unit; values above `2^63 - 1` are rejected, where Kubernetes
//! would silently cap them.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// How a quantity is written, taken from its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Powers of 1024: `Ki`, `Mi`, `Gi`, ...
    BinarySI,
    /// Powers of 1000: `m`, `k`, `M`, `G`, ... or no suffix.
    DecimalSI,
    /// Powers of ten written as an exponent: `e3`, `E-2`.
    DecimalExponent,
}

/// The exact value of a quantity, and the format it was written in.
///
/// Equality, ordering and hashing look at the value only: `1Gi == 1024Mi`, `1 == 1000m`.
#[derive(Debug, Clone, Copy)]
pub struct ParsedQuantity {
    /// The value times 10^9.
    nanos: i128,
    format: QuantityFormat,
}

/// Why a text is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    /// What is wrong.
    pub message: String,
    /// How to fix it, where known.
    pub help: Option<String>,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QuantityError {}

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// The largest value Kubernetes keeps, in nano-units: (2^63 - 1) units.
const MAX_NANOS: i128 = i64::MAX as i128 * NANOS_PER_UNIT;

const SUFFIX_HELP: &str =
    "use a binary suffix (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), a decimal one \
     (`n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`) or an exponent such as `e3`";

impl ParsedQuantity {
    /// A quantity of `nanos` nano-units in the given format.
    pub fn from_nanos(nanos: i128, format: QuantityFormat) -> Self {
        ParsedQuantity { nanos, format }
    }

    /// The exact value times 10^9.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format, taken from the suffix the quantity was written with.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value as a float (inexact for large or very precise values).
    pub fn to_f64(&self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT as f64
    }

    /// The text Kubernetes writes back for this quantity, such as `1500m` for `1.5`, `2Gi` for
    /// `2048Mi` and `1k` for `1000`.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        if self.format == QuantityFormat::BinarySI
            && self.nanos.abs() >= 1024 * NANOS_PER_UNIT
            && self.nanos % NANOS_PER_UNIT == 0
        {
            let mut units = self.nanos / NANOS_PER_UNIT;
            let mut power = 0;
            while units % 1024 == 0 && power < 6 {
                units /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{units}{suffix}");
        }
        // Decimal: move factors of ten into the exponent, then lower the exponent to a
        // multiple of three.
        let mut mantissa = self.nanos;
        let mut exponent: i32 = -9;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        if self.format == QuantityFormat::DecimalExponent {
            if exponent == 0 {
                mantissa.to_string()
            } else {
                format!("{mantissa}e{exponent}")
            }
        } else {
            let suffix = match exponent {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                // Unreachable for values within the bounds parse_quantity enforces.
                _ => return format!("{mantissa}e{exponent}"),
            };
            format!("{mantissa}{suffix}")
        }
    }
}

impl PartialEq for ParsedQuantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for ParsedQuantity {}

impl PartialOrd for ParsedQuantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ParsedQuantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for ParsedQuantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl fmt::Display for ParsedQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

fn not_quantity(s: &str, help: impl Into<String>) -> QuantityError {
    QuantityError {
        message: format!("`{s}` is not a Kubernetes quantity"),
        help: Some(help.into()),
    }
}

fn too_large(s: &str) -> QuantityError {
    QuantityError {
        message: format!("`{s}` is too large"),
        help: Some("Kubernetes quantities are at most 2^63-1 (about `9E`)".to_string()),
    }
}

/// Help for an unknown suffix, suggesting the suffixes the user probably meant.
fn suffix_help(number: &str, suffix: &str) -> String {
    let letter = |c: char| match c.to_ascii_uppercase() {
        'K' => Some(("Ki", "k")),
        'M' => Some(("Mi", "M")),
        'G' => Some(("Gi", "G")),
        'T' => Some(("Ti", "T")),
        'P' => Some(("Pi", "P")),
        'E' => Some(("Ei", "E")),
        _ => None,
    };
    let mut chars = suffix.chars();
    let first = chars.next();
    let rest: String = chars.collect();
    if ["b", "byte", "bytes"]
        .iter()
        .any(|b| suffix.eq_ignore_ascii_case(b))
    {
        return format!("memory is counted in bytes; write the number alone: `{number}`");
    }
    let known_tail = matches!(rest.as_str(), "" | "b" | "B");
    match first.and_then(letter) {
        Some((bin, _)) if rest.eq_ignore_ascii_case("i") || rest.eq_ignore_ascii_case("ib") => {
            format!("use `{number}{bin}`")
        }
        Some((bin, dec)) if known_tail => {
            format!("use a binary suffix such as `{number}{bin}` or a decimal one such as `{number}{dec}`")
        }
        _ => SUFFIX_HELP.to_string(),
    }
}

/// The value of a suffix: (base, exponent, format).
fn interpret_suffix(suffix: &str) -> Option<(u32, i64, QuantityFormat)> {
    use QuantityFormat::*;
    let decimal = |e| Some((10, e, DecimalSI));
    let binary = |e| Some((2, e, BinarySI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Saturate: any exponent beyond this is out of range either way.
            let magnitude: i64 = digits.parse().unwrap_or(1_000_000).min(1_000_000);
            let e = if exp.starts_with('-') {
                -magnitude
            } else {
                magnitude
            };
            Some((10, e, DecimalExponent))
        }
    }
}

/// Parses a Kubernetes quantity such as `500m`, `2`, `1.5`, `8Gi` or `1e3`.
pub fn parse_quantity(s: &str) -> Result<ParsedQuantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError {
            message: "the quantity is empty".to_string(),
            help: Some(
                "write a number with an optional suffix, such as `500m`, `2` or `8Gi`".to_string(),
            ),
        });
    }
    if s.contains(char::is_whitespace) {
        let joined: String = s.split_whitespace().collect();
        let what = if s.trim() == s {
            "the space"
        } else {
            "the spaces"
        };
        return Err(not_quantity(s, format!("remove {what}: `{joined}`")));
    }
    if s.contains(',') {
        return Err(not_quantity(
            s,
            format!(
                "use a dot as the decimal point (`{}`) and no thousands separators",
                s.replacen(',', ".", 1)
            ),
        ));
    }
    if s.contains('_') || s.contains('\'') {
        return Err(not_quantity(
            s,
            format!(
                "remove the digit separators: `{}`",
                s.replace(['_', '\''], "")
            ),
        ));
    }

    let b = s.as_bytes();
    let mut pos = 0;
    let negative = b[0] == b'-';
    if b[0] == b'-' || b[0] == b'+' {
        pos = 1;
    }
    let int_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_digits = &s[int_start..pos];
    let mut frac_digits = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let frac_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_digits = &s[frac_start..pos];
    }
    let number = &s[..pos];
    let suffix = &s[pos..];

    if int_digits.is_empty()
        && frac_digits.is_empty()
        && !suffix.contains(|c: char| c.is_ascii_digit())
    {
        let help = if number.ends_with('.') {
            "write digits around the decimal point, such as `0.5`"
        } else if suffix.is_empty() {
            "write a number after the sign, such as `-1` or `+0.5`"
        } else if interpret_suffix(suffix).is_some() {
            "write a number before the suffix, such as `1Gi` or `500m`"
        } else {
            "write a number with an optional suffix, such as `500m`, `2` or `8Gi`"
        };
        return Err(QuantityError {
            message: format!("`{s}` is not a Kubernetes quantity: it has no digits"),
            help: Some(help.to_string()),
        });
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(not_quantity(
            s,
            "write a number with an optional sign and suffix, such as `-1`, `500m` or `8Gi`",
        ));
    }

    let Some((base, exponent, format)) = interpret_suffix(suffix) else {
        let help = if suffix.starts_with('.') {
            "a number has at most one decimal point".to_string()
        } else if suffix.starts_with(['e', 'E']) && suffix.len() > 1 {
            "write the exponent as whole digits, such as `1e3` or `5E-2`".to_string()
        } else if suffix == "e" {
            format!("write an exponent such as `{number}e3`, or use `{number}E` for 10^18")
        } else if suffix.starts_with('%') {
            "percentages are not quantities; write the amount itself".to_string()
        } else {
            suffix_help(number, suffix)
        };
        return Err(not_quantity(s, help));
    };

    // The digits without leading or trailing zeros, and the power of ten they are scaled by.
    let all_digits = format!("{int_digits}{frac_digits}");
    let mut scale10: i64 = exponent * i64::from(base == 10) - frac_digits.len() as i64;
    let trimmed_end = all_digits.trim_end_matches('0');
    scale10 += (all_digits.len() - trimmed_end.len()) as i64;
    let digits = trimmed_end.trim_start_matches('0');
    let pow2: u32 = if base == 2 { exponent as u32 } else { 0 };

    let magnitude = if digits.is_empty() {
        0
    } else {
        exact_nanos(digits, scale10 + 9, pow2).ok_or_else(|| too_large(s))?
    };
    if magnitude > MAX_NANOS {
        return Err(too_large(s));
    }
    let nanos = if negative { -magnitude } else { magnitude };
    let mut format = format;
    if s == "0" || format == QuantityFormat::BinarySI && nanos != 0 && nanos.abs() < NANOS_PER_UNIT
    {
        // As Kubernetes does: binary values below one unit are decimal.
        format = QuantityFormat::DecimalSI;
    }
    Ok(ParsedQuantity { nanos, format })
}

/// `ceil(digits * 10^scale10 * 2^pow2)` for a non-zero decimal digit string, or `None` if it
/// does not fit comfortably in an i128.
fn exact_nanos(digits: &str, scale10: i64, pow2: u32) -> Option<i128> {
    // A small big-number in base 10^9, least significant limb first.
    const LIMB: u64 = 1_000_000_000;
    fn mul_small(n: &mut Vec<u64>, m: u64, add: u64, max_limbs: usize) -> Option<()> {
        let mut carry = add;
        for limb in n.iter_mut() {
            let v = *limb * m + carry;
            *limb = v % LIMB;
            carry = v / LIMB;
        }
        while carry > 0 {
            n.push(carry % LIMB);
            carry /= LIMB;
        }
        (n.len() <= max_limbs).then_some(())
    }
    /// Divides in place, returning whether the remainder was non-zero.
    fn div_small(n: &mut Vec<u64>, d: u64) -> bool {
        let mut rem = 0;
        for limb in n.iter_mut().rev() {
            let v = rem * LIMB + *limb;
            *limb = v / d;
            rem = v % d;
        }
        while n.last() == Some(&0) {
            n.pop();
        }
        rem != 0
    }

    if scale10 > 40 {
        return None;
    }
    // Room for the digits and the binary factor; the result is checked against i128 below.
    let max_limbs = digits.len() / 9 + 8;
    let mut n: Vec<u64> = Vec::new();
    for c in digits.bytes() {
        mul_small(&mut n, 10, u64::from(c - b'0'), max_limbs)?;
    }
    for _ in 0..pow2 {
        mul_small(&mut n, 2, 0, max_limbs)?;
    }
    let mut inexact = false;
    if scale10 >= 0 {
        for _ in 0..scale10 {
            mul_small(&mut n, 10, 0, max_limbs)?;
        }
    } else {
        for _ in 0..(-scale10) {
            inexact |= div_small(&mut n, 10);
            if n.is_empty() {
                // Everything was below a nano-unit.
                return Some(1);
            }
        }
    }
    let mut value: i128 = 0;
    for limb in n.iter().rev() {
        value = value
            .checked_mul(LIMB as i128)?
            .checked_add(*limb as i128)?;
    }
    if inexact {
        value = value.checked_add(1)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn q(s: &str) -> ParsedQuantity {
        parse_quantity(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn err(s: &str) -> QuantityError {
        parse_quantity(s).expect_err(s)
    }

    fn canon(s: &str) -> String {
        q(s).canonical()
    }

    #[test]
    fn parses_exact_values() {
        assert_eq!(q("1").nanos(), 1_000_000_000);
        assert_eq!(q("500m").nanos(), 500_000_000);
        assert_eq!(q("1.5").nanos(), 1_500_000_000);
        assert_eq!(q(".5").nanos(), 500_000_000);
        assert_eq!(q("5.").nanos(), 5_000_000_000);
        assert_eq!(q("+2").nanos(), 2_000_000_000);
        assert_eq!(q("-2k").nanos(), -2_000_000_000_000);
        assert_eq!(q("1n").nanos(), 1);
        assert_eq!(q("3u").nanos(), 3_000);
        assert_eq!(q("1Ki").nanos(), 1024 * NANOS_PER_UNIT);
        assert_eq!(q("8Gi").nanos(), 8 * (1 << 30) * NANOS_PER_UNIT);
        assert_eq!(q("1Ei").nanos(), (1i128 << 60) * NANOS_PER_UNIT);
        assert_eq!(q("1E").nanos(), 10i128.pow(18) * NANOS_PER_UNIT);
        assert_eq!(q("1e3").nanos(), 1000 * NANOS_PER_UNIT);
        assert_eq!(q("1E3").nanos(), 1000 * NANOS_PER_UNIT);
        assert_eq!(q("5E-2").nanos(), 50_000_000);
        assert_eq!(q("1e+2").nanos(), 100 * NANOS_PER_UNIT);
        assert_eq!(q("0.5Ki").nanos(), 512 * NANOS_PER_UNIT);
        assert_eq!(q("000123.4500").nanos(), 123_450_000_000);
        assert_eq!(q("0").nanos(), 0);
        assert_eq!(q("0.000Gi").nanos(), 0);
        assert_eq!(q("-0").nanos(), 0);
        assert_eq!(
            q("1.000000000000000000000000000000000000000000").nanos(),
            NANOS_PER_UNIT
        );
    }

    #[test]
    fn rounds_sub_nano_values_up() {
        assert_eq!(q("0.1n").nanos(), 1);
        assert_eq!(q("1.5n").nanos(), 2);
        assert_eq!(q("-1.5n").nanos(), -2);
        assert_eq!(q("1.0000000001").nanos(), 1_000_000_001);
        assert_eq!(q("1e-20").nanos(), 1);
        assert_eq!(q("1e-999999999999").nanos(), 1);
        assert_eq!(q("0.0000000001Ki").nanos(), 103); // 102.4n
        let long_fraction = format!("0.{}1234567890{}", "0".repeat(60), "1234567890".repeat(10));
        assert_eq!(q(&long_fraction).nanos(), 1);
        let long_integer = format!("1.{}1", "0".repeat(100));
        assert_eq!(q(&long_integer).nanos(), 1_000_000_001);
        assert_eq!(
            q("1.00000000000000000000000000000000000001").nanos(),
            1_000_000_001
        );
    }

    #[test]
    fn formats() {
        assert_eq!(q("1").format(), QuantityFormat::DecimalSI);
        assert_eq!(q("1k").format(), QuantityFormat::DecimalSI);
        assert_eq!(q("1Ki").format(), QuantityFormat::BinarySI);
        assert_eq!(q("0Ki").format(), QuantityFormat::BinarySI);
        assert_eq!(q("0.5Ki").format(), QuantityFormat::BinarySI);
        assert_eq!(q("0.0001Ki").format(), QuantityFormat::DecimalSI);
        assert_eq!(q("1e3").format(), QuantityFormat::DecimalExponent);
        assert_eq!(q("0").format(), QuantityFormat::DecimalSI);
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("2048Mi", "2Gi"),
            ("1024Ki", "1Mi"),
            ("1.5Gi", "1536Mi"),
            ("1000", "1k"),
            ("1000000", "1M"),
            ("100M", "100M"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("10Gi", "10Gi"),
            ("129e6", "129e6"),
            ("12Mi", "12Mi"),
            ("0.5Ki", "512"),
            ("1.1Ki", "1126400m"),
            ("1023", "1023"),
            ("1024", "1024"),
            ("1Ki", "1Ki"),
            ("1536", "1536"),
            ("1000Ki", "1000Ki"),
            ("1025Ki", "1025Ki"),
            ("-1Ki", "-1Ki"),
            ("-1.5Gi", "-1536Mi"),
            ("-1500m", "-1500m"),
            ("1Ei", "1Ei"),
            ("7Ei", "7Ei"),
            ("1E", "1E"),
            ("1n", "1n"),
            ("10n", "10n"),
            ("1000n", "1u"),
            ("0.1", "100m"),
            ("0.001", "1m"),
            ("0.0001", "100u"),
            ("1.5k", "1500"),
            ("12.5M", "12500k"),
            ("0Gi", "0"),
            ("0.0", "0"),
            ("-0", "0"),
            ("1e0", "1"),
            ("1e1", "10"),
            ("1e-3", "1e-3"),
            ("5E-2", "50e-3"),
            ("1.5e3", "1500"),
            ("15e2", "1500"),
            ("1200e3", "1200e3"),
            ("1000e3", "1e6"),
            (".5", "500m"),
            ("5.", "5"),
            ("+5", "5"),
            ("0.1n", "1n"),
            ("100m", "100m"),
            ("250m", "250m"),
            ("512Mi", "512Mi"),
            ("4Gi", "4Gi"),
            ("1G", "1G"),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "canonical({input})");
            // Canonical text parses back to the same value and canonical text.
            assert_eq!(q(want), q(input), "{want} == {input}");
            assert_eq!(canon(want), want, "canonical({want}) is stable");
        }
    }

    #[test]
    fn equality_by_value() {
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1e3"), q("1k"));
        assert_ne!(q("1G"), q("1Gi"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("500m") < q("1"));
        assert!(q("-1") < q("0"));
        assert_eq!(q("2Gi").max(q("2G")), q("2Gi"));
        let hash = |p: ParsedQuantity| {
            let mut h = DefaultHasher::new();
            p.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(q("1Gi")), hash(q("1024Mi")));
        assert_eq!(hash(q("1")), hash(q("1000m")));
    }

    #[test]
    fn floats() {
        assert_eq!(q("1.5").to_f64(), 1.5);
        assert_eq!(q("500m").to_f64(), 0.5);
        assert_eq!(q("1Gi").to_f64(), 1_073_741_824.0);
        assert_eq!(q("-2k").to_f64(), -2000.0);
    }

    #[test]
    fn limits() {
        assert_eq!(q("9223372036854775807").nanos(), MAX_NANOS);
        assert_eq!(q("7Ei").nanos(), 7 * (1i128 << 60) * NANOS_PER_UNIT);
        assert_eq!(q("9E").nanos(), 9 * 10i128.pow(27));
        assert_eq!(q("-9223372036854775807").nanos(), -MAX_NANOS);
        for s in [
            "9223372036854775808",
            "8Ei",
            "10E",
            "1e19",
            "1e400",
            "1e99999999999999999999",
            "123456789012345678901234567890123456789012345678901234567890",
            "-8Ei",
        ] {
            let e = err(s);
            assert_eq!(e.message, format!("`{s}` is too large"));
            assert!(e.help.is_some());
        }
    }

    #[test]
    fn wrong_suffixes() {
        let e = err("8GB");
        assert_eq!(e.message, "`8GB` is not a Kubernetes quantity");
        assert_eq!(
            e.help.as_deref(),
            Some("use a binary suffix such as `8Gi` or a decimal one such as `8G`")
        );
        assert_eq!(
            err("512MB").help.as_deref(),
            Some("use a binary suffix such as `512Mi` or a decimal one such as `512M`")
        );
        assert_eq!(
            err("1KB").help.as_deref(),
            Some("use a binary suffix such as `1Ki` or a decimal one such as `1k`")
        );
        assert_eq!(
            err("8g").help.as_deref(),
            Some("use a binary suffix such as `8Gi` or a decimal one such as `8G`")
        );
        assert_eq!(
            err("1K").help.as_deref(),
            Some("use a binary suffix such as `1Ki` or a decimal one such as `1k`")
        );
        assert_eq!(err("8GiB").help.as_deref(), Some("use `8Gi`"));
        assert_eq!(err("8gi").help.as_deref(), Some("use `8Gi`"));
        assert_eq!(err("8MIB").help.as_deref(), Some("use `8Mi`"));
        assert_eq!(err("2cores").help.as_deref(), Some(SUFFIX_HELP));
        assert_eq!(err("1mi").help.as_deref(), Some("use `1Mi`"));
        assert!(err("50%").help.unwrap().contains("percentages"));
        assert_eq!(
            err("512B").help.as_deref(),
            Some("memory is counted in bytes; write the number alone: `512`")
        );
    }

    #[test]
    fn spaces_and_commas() {
        let e = err("8 Gi");
        assert_eq!(e.message, "`8 Gi` is not a Kubernetes quantity");
        assert_eq!(e.help.as_deref(), Some("remove the space: `8Gi`"));
        assert_eq!(
            err(" 8Gi ").help.as_deref(),
            Some("remove the spaces: `8Gi`")
        );
        let e = err("1,5");
        assert_eq!(e.message, "`1,5` is not a Kubernetes quantity");
        assert_eq!(
            e.help.as_deref(),
            Some("use a dot as the decimal point (`1.5`) and no thousands separators")
        );
        assert_eq!(
            err("1_000").help.as_deref(),
            Some("remove the digit separators: `1000`")
        );
    }

    #[test]
    fn no_digits() {
        let e = err("");
        assert_eq!(e.message, "the quantity is empty");
        assert!(e.help.is_some());
        for s in ["-", "+", ".", "-.", "Gi", "m", "-Gi", "x"] {
            let e = err(s);
            assert!(e.message.starts_with(&format!("`{s}`")), "{s}: {e:?}");
            assert!(e.help.is_some(), "{s}");
        }
        assert_eq!(
            err("-").message,
            "`-` is not a Kubernetes quantity: it has no digits"
        );
        assert_eq!(
            err("Gi").help.as_deref(),
            Some("write a number before the suffix, such as `1Gi` or `500m`")
        );
    }

    #[test]
    fn malformed_numbers() {
        for s in [
            "1.2.3", "1e", "1e3.5", "1e-", "1ee3", "0x10", "1Gi1", "1.5.Gi", "--1", "1-",
        ] {
            let e = err(s);
            assert_eq!(
                e.message,
                format!("`{s}` is not a Kubernetes quantity"),
                "{s}"
            );
            assert!(e.help.is_some(), "{s}");
        }
        assert!(err("1e").help.unwrap().contains("`1e3`"));
        assert!(err("1.2.3").help.unwrap().contains("one decimal point"));
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(q("2048Mi").to_string(), "2Gi");
        assert_eq!(
            ParsedQuantity::from_nanos(1_500_000_000, QuantityFormat::DecimalSI).to_string(),
            "1500m"
        );
    }
}

// Quantity normalisation as an API server does it.

/// The exact value of a quantity in nano-units, or `None` when it is not a quantity.
pub(crate) fn quantity_nanos(s: &str) -> Option<i128> {
    parse_quantity(s).ok().map(|q| q.nanos())
}

/// The Kubernetes canonical form of a quantity (`1000m` -> `1`, `2048Mi` -> `2Gi`).
pub(crate) fn canonical_quantity(s: &str) -> Option<String> {
    parse_quantity(s).ok().map(|q| q.canonical())
}

#[cfg(test)]
mod canonical_tests {
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
