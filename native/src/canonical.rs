//! Canonical text of JSON scalars, exactly as `driftline/decode/canonical.py` writes it.
//!
//! A string is itself, `true`/`false`, an integer its decimal digits, any other number
//! Python's `repr` of its double: the shortest digits that read back to the same double,
//! in fixed notation from 1e-4 up to (not including) 1e16, else scientific with at least
//! two exponent digits (`1e-05`, `1e+16`), and a fixed number always has a fraction
//! (`100.0`, `-0.0`).
//!
//! The shortest round-trip digits come from Rust's own float formatting (`{:e}` without a
//! precision is the shortest, closest representation, as Python's `repr` is); only the
//! layout is Python's, so both agree digit for digit (see the tests' table of reprs).

use std::fmt::Write;

/// Appends Python's `repr(x)` of a finite double to `out`.
pub fn repr_f64(x: f64, out: &mut String) {
    debug_assert!(x.is_finite());
    let mut sci = String::with_capacity(32);
    write!(sci, "{:e}", x).expect("formatting a float cannot fail");
    let (negative, body) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exponent) = body
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let exp: i32 = exponent.parse().expect("{:e} writes a decimal exponent");
    let mut digits = String::with_capacity(20);
    digits.extend(mantissa.chars().filter(|c| *c != '.'));
    if negative {
        out.push('-');
    }
    // Python's float_repr_style 'short': scientific iff decpt < -3 or decpt > 16,
    // where decpt = exp + 1 is the position of the decimal point after the first digit
    let decpt = exp + 1;
    if !(-3..=16).contains(&decpt) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        write!(out, "{:02}", exp.unsigned_abs()).expect("writing to a String cannot fail");
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = decpt as usize;
        if point >= digits.len() {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
}

/// Python's `repr(x)` of a finite double.
pub fn repr(x: f64) -> String {
    let mut s = String::with_capacity(24);
    repr_f64(x, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::repr;

    /// (double, Python's repr) — the table is Python's own output (`repr(float)`).
    const TABLE: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (-1.0, "-1.0"),
        (100.0, "100.0"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (0.25, "0.25"),
        (1.0 / 3.0, "0.3333333333333333"),
        (2.0 / 3.0, "0.6666666666666666"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-4, "0.0001"),
        (0.00012345, "0.00012345"),
        (9.9999e-5, "9.9999e-05"),
        (1e-5, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e-100, "1e-100"),
        (5e-324, "5e-324"),
        (2.2250738585072014e-308, "2.2250738585072014e-308"),
        (1e15, "1000000000000000.0"),
        (9999999999999998.0, "9999999999999998.0"),
        (1e16, "1e+16"),
        (1.2345e16, "1.2345e+16"),
        (1e22, "1e+22"),
        (1e100, "1e+100"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-1.7976931348623157e308, "-1.7976931348623157e+308"),
        (123456789.125, "123456789.125"),
        (18446744073709551616.0, "1.8446744073709552e+19"),
        (-9223372036854775809.0, "-9.223372036854776e+18"),
        (9007199254740993.0, "9007199254740992.0"),
        (1770962400.123, "1770962400.123"),
        (-2.5e-5, "-2.5e-05"),
        (123e-20, "1.23e-18"),
        (0.001, "0.001"),
        (12.0, "12.0"),
        (1e1, "10.0"),
        (4.35, "4.35"),
        (5e-5, "5e-05"),
        (0.5e-3, "0.0005"),
    ];

    #[test]
    fn reprs_match_python() {
        for (x, want) in TABLE {
            assert_eq!(repr(*x), *want, "repr of {x:e}");
        }
    }

    #[test]
    fn every_repr_reads_back_to_its_double() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from_bits(state);
            if !x.is_finite() {
                continue;
            }
            let text = repr(x);
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
        }
    }
}
