//! The event-time rule of `driftline/timestamps.py`, bit for bit.
//!
//! An RFC 3339 string `YYYY-MM-DD(T|t| )hh:mm:ss[.f{1,9}](Z|z|±hh:mm)` (ASCII digits, a
//! real date, hours ≤ 23, minutes and seconds ≤ 59, offset hours ≤ 23 and minutes ≤ 59)
//! is the exact integer of microseconds (the fraction truncated) divided once by 1e6; an
//! epoch number is divided once by its unit, read from its magnitude. Python computes
//! `int / 1e6` by rounding the integer to the nearest double first, as `i64 as f64` does.

/// Days from 1970-01-01 to a proleptic Gregorian date (Python's `date.toordinal()` offset),
/// or None for a date that does not exist (`date(y, m, d)` raising ValueError).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    // Howard Hinnant's days_from_civil
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Epoch seconds of a strict RFC 3339 string (`timestamps.parse_rfc3339`), no floor.
pub fn parse_rfc3339(text: &[u8]) -> Option<f64> {
    let b = text;
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut i = 19;
    let mut micros = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let n = end - start;
        if n == 0 || n > 9 {
            return None;
        }
        for k in 0..6 {
            let digit = if k < n {
                i64::from(b[start + k] - b'0')
            } else {
                0
            };
            micros = micros * 10 + digit;
        }
        i = end;
    }
    let rest = &b[i..];
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let (oh, om) = (digits(&[*oh1, *oh2])?, digits(&[*om1, *om2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            (oh * 60 + om) * 60 * if *sign == b'+' { 1 } else { -1 }
        }
        _ => return None,
    };
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d)?;
    let total_us = ((days * 86_400 + h * 3_600 + mi * 60 + s) - offset) * 1_000_000 + micros;
    Some(total_us as f64 / 1e6)
}

/// Epoch magnitude bounds and their unit divisors: seconds, ms, µs, ns (`timestamps.UNITS`).
const UNITS: [(f64, f64); 4] = [(1e11, 1.0), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9)];

/// Epoch seconds of an epoch number in s/ms/µs/ns by magnitude (`timestamps.parse_epoch`).
pub fn parse_epoch(x: f64) -> Option<f64> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    for (bound, unit) in UNITS {
        if x < bound {
            return Some(if unit != 1.0 { x / unit } else { x });
        }
    }
    None
}

/// The floor applied to either form (`timestamps.parse_timestamp`).
pub fn at_or_after(t: Option<f64>, floor: f64) -> Option<f64> {
    t.filter(|t| *t >= floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values Python's `timestamps.parse_rfc3339` gives (repr'd there, bits compared here).
    #[test]
    fn rfc3339_matches_python() {
        let table: &[(&str, Option<f64>)] = &[
            ("2026-02-13T06:00:00Z", Some(1770962400.0)),
            ("2026-02-13t06:00:00.5z", Some(1770962400.5)),
            ("2026-02-13 06:00:00+01:00", Some(1770958800.0)),
            (
                "2026-02-13T06:00:00.123456789-05:30",
                Some(1770982200.123456),
            ),
            ("2026-02-13T08:15:02.1209999Z", Some(1770970502.120999)),
            ("2000-01-01T00:00:00Z", Some(946684800.0)),
            ("1969-07-20T20:17:00Z", Some(-14182980.0)),
            ("0001-01-01T00:00:00Z", Some(-62135596800.0)),
            ("9999-12-31T23:59:59.999999Z", Some(253402300800.0)),
            ("2024-02-29T00:00:00Z", Some(1709164800.0)),
            ("2026-02-13T06:00:00.000001+23:59", Some(1770876060.000001)),
            ("2023-02-29T00:00:00Z", None),
            ("1900-02-29T00:00:00Z", None),
            ("0000-01-01T00:00:00Z", None),
            ("2026-02-30T00:00:00Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-00-01T00:00:00Z", None),
            ("2026-01-00T00:00:00Z", None),
            ("2026-02-13T24:00:00Z", None),
            ("2026-02-13T06:60:00Z", None),
            ("2026-02-13T06:00:60Z", None),
            ("2026-02-13T06:00:00+24:00", None),
            ("2026-02-13T06:00:00+01:60", None),
            ("2026-02-13T06:00:00", None),
            ("2026-02-13T06:00:00.Z", None),
            ("2026-02-13T06:00:00.1234567891Z", None),
            ("2026-02-13T06:00:00,5Z", None),
            ("2026-02-13T06:00:00+0100", None),
            ("2026-02-13T06:00:00Z ", None),
            ("2026-02-13T06:00:00Zz", None),
            ("2026-02-13X06:00:00Z", None),
            ("20260213T060000Z", None),
            ("2026-2-13T06:00:00Z", None),
            ("+026-02-13T06:00:00Z", None),
            ("2026-02-13T06:00:00\u{661}Z", None),
            ("\u{662}\u{660}\u{662}\u{666}-02-13T06:00:00Z", None),
            ("", None),
        ];
        for (text, want) in table {
            let got = parse_rfc3339(text.as_bytes());
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "{text}: {got:?}"
            );
        }
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(parse_epoch(1770970502.5), Some(1770970502.5));
        assert_eq!(parse_epoch(1770970502120.0), Some(1770970502.12));
        assert_eq!(parse_epoch(1770970502120999.0), Some(1770970502.120999));
        assert_eq!(parse_epoch(1.770970502120999e18), Some(1770970502.1209989)); // as Python
        assert_eq!(parse_epoch(1e20), None);
        assert_eq!(parse_epoch(-1.0), None);
        assert_eq!(parse_epoch(f64::NAN), None);
        assert_eq!(
            parse_epoch(-0.0).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(at_or_after(parse_epoch(0.0), 946684800.0), None);
        assert_eq!(
            at_or_after(parse_epoch(946684800.0), 946684800.0),
            Some(946684800.0)
        );
    }
}
