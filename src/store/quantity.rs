//! Canonical form of resource quantities, as an API server writes them back (`1000m` -> `1`,
//! `2048Mi` -> `2Gi`). Kept behind [`canonical_quantity`] and [`quantity_nanos`] so that the
//! shared quantity type can take over without touching callers.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    BinarySi,
    DecimalSi,
    DecimalExponent,
}

const NANO: i128 = 1_000_000_000;

/// The exact value of a quantity in billionths (rounded up), with the format it was written in.
fn parse(s: &str) -> Option<(i128, Format)> {
    let s = s.trim();
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => (-1, b),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let num_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (num, suffix) = body.split_at(num_end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return None;
    }
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    // mantissa * 10^(-frac_len)
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut mult: i128 = 1;
    let format = match suffix {
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let p = match suffix {
                "Ki" => 1,
                "Mi" => 2,
                "Gi" => 3,
                "Ti" => 4,
                "Pi" => 5,
                _ => 6,
            };
            mult = 1i128 << (10 * p);
            Format::BinarySi
        }
        "n" => {
            exp10 -= 9;
            Format::DecimalSi
        }
        "u" => {
            exp10 -= 6;
            Format::DecimalSi
        }
        "m" => {
            exp10 -= 3;
            Format::DecimalSi
        }
        "" => Format::DecimalSi,
        "k" => {
            exp10 += 3;
            Format::DecimalSi
        }
        "M" => {
            exp10 += 6;
            Format::DecimalSi
        }
        "G" => {
            exp10 += 9;
            Format::DecimalSi
        }
        "T" => {
            exp10 += 12;
            Format::DecimalSi
        }
        "P" => {
            exp10 += 15;
            Format::DecimalSi
        }
        "E" => {
            exp10 += 18;
            Format::DecimalSi
        }
        e if e.starts_with(['e', 'E']) => {
            let n: i32 = e[1..].parse().ok()?;
            if !(-30..=30).contains(&n) {
                return None;
            }
            exp10 += n;
            Format::DecimalExponent
        }
        _ => return None,
    };
    // value in nanos = mantissa * mult * 10^(exp10 + 9), rounded up.
    let e = exp10 + 9;
    let base = mantissa.checked_mul(mult)?;
    let nanos = if e >= 0 {
        base.checked_mul(10i128.checked_pow(e as u32)?)?
    } else {
        let d = 10i128.checked_pow((-e) as u32)?;
        base.checked_add(d - 1)? / d
    };
    Some((sign * nanos, format))
}

/// The value of a quantity in billionths of a unit, or `None` when it is not a quantity.
pub(crate) fn quantity_nanos(s: &str) -> Option<i128> {
    parse(s).map(|(n, _)| n)
}

/// The canonical form of a quantity, or `None` when it is not one.
pub(crate) fn canonical_quantity(s: &str) -> Option<String> {
    let (nanos, mut format) = parse(s)?;
    if nanos == 0 {
        return Some("0".to_string());
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.abs();
    if format == Format::BinarySi && (abs < 1024 * NANO || abs % NANO != 0) {
        format = Format::DecimalSi;
    }
    match format {
        Format::BinarySi => {
            let mut v = abs / NANO;
            let mut i = 0;
            while i < 6 && v % 1024 == 0 {
                v /= 1024;
                i += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][i];
            Some(format!("{sign}{v}{suffix}"))
        }
        Format::DecimalSi | Format::DecimalExponent => {
            // nanos = v * 10^(-9); pull out powers of 1000.
            let mut v = abs;
            let mut exp = -9i32;
            while v % 1000 == 0 && exp < 18 {
                v /= 1000;
                exp += 3;
            }
            if format == Format::DecimalExponent {
                return Some(if exp == 0 {
                    format!("{sign}{v}")
                } else {
                    format!("{sign}{v}e{exp}")
                });
            }
            let suffix = match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                0 => "",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                _ => "E",
            };
            Some(format!("{sign}{v}{suffix}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("2048Mi", "2Gi"),
            ("1536Mi", "1536Mi"),
            ("1024Ki", "1Mi"),
            ("512Ki", "512Ki"),
            ("100", "100"),
            ("2000", "2k"),
            ("1Gi", "1Gi"),
            ("1G", "1G"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("0Gi", "0"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("-1", "-1"),
        ] {
            assert_eq!(canonical_quantity(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1Xi",
            "Gi",
            ".",
            "99999999999999999999999999999Ei",
            "0.000000000000000000000000000001e-30",
        ] {
            assert_eq!(canonical_quantity(bad), None, "{bad}");
        }
        assert!(quantity_nanos("2Gi").unwrap() > quantity_nanos("1Gi").unwrap());
        assert_eq!(quantity_nanos("1"), quantity_nanos("1000m"));
    }
}
