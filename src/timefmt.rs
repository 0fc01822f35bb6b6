//! RFC 3339 UTC timestamps (`2026-11-23T21:25:34Z`) from `SystemTime`,
//! without a date crate: days-since-epoch to civil date is Howard
//! Hinnant's `civil_from_days`, a dozen lines of integer arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> String {
    format(SystemTime::now())
}

/// Seconds since the epoch (0 before it).
pub fn epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `t` in milliseconds since the epoch.
pub fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `ms` (epoch milliseconds) as `format` writes it.
pub fn format_ms(ms: i64) -> String {
    format(UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64))
}

/// `ms` with its milliseconds (`2026-11-23T21:25:34.120Z`): when what a
/// journal tells happened within one second.
pub fn format_millis(ms: i64) -> String {
    let whole = format_ms(ms);
    let frac = ms.rem_euclid(1000);
    format!("{}.{frac:03}Z", whole.trim_end_matches('Z'))
}

pub fn format(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses the RFC 3339 timestamps agents write (`YYYY-MM-DDTHH:MM:SS`,
/// an optional fraction, then `Z`, `±HH:MM` or nothing for UTC) to seconds
/// since the epoch. Anything else is `None`.
pub fn parse_epoch(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let offset = utc_offset(s.get(19..)?)?;
    // days_from_civil, the inverse of the above.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// `parse_epoch` in milliseconds, with the fraction's first three digits.
pub fn parse_epoch_ms(s: &str) -> Option<i64> {
    let secs = parse_epoch(s)?;
    let frac = s.get(19..).and_then(|r| r.strip_prefix('.')).unwrap_or("");
    let digits: String = frac
        .chars()
        .take_while(char::is_ascii_digit)
        .take(3)
        .collect();
    let ms = format!("{digits:0<3}").parse::<i64>().unwrap_or(0);
    Some(secs * 1000 + ms)
}

/// What follows the seconds: an optional fraction, then `Z`, `±HH:MM`
/// or nothing (read as UTC); the offset in seconds east of UTC.
fn utc_offset(rest: &str) -> Option<i64> {
    let rest = match rest.strip_prefix('.') {
        Some(frac) => frac.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    match rest.as_bytes() {
        [] | [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let num = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let secs = num(*h1, *h2)? * 3600 + num(*m1, *m2)? * 60;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_and_parses_round_trip() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_469_175, "2026-11-23T21:26:15Z"),
        ] {
            assert_eq!(format(UNIX_EPOCH + Duration::from_secs(secs)), text);
            assert_eq!(parse_epoch(text), Some(secs as i64));
        }
        assert_eq!(parse_epoch("2026-11-23T21:26:15.798Z"), Some(1_795_469_175));
        assert_eq!(format_millis(1_795_469_175_042), "2026-11-23T21:26:15.042Z");
        assert_eq!(
            parse_epoch("2026-11-23T23:26:15+02:00"),
            Some(1_795_469_175)
        );
        assert_eq!(
            parse_epoch("2026-11-23T20:56:15.5-00:30"),
            Some(1_795_469_175)
        );
        assert_eq!(parse_epoch("2026-11-23T21:26:15"), Some(1_795_469_175));
        assert_eq!(parse_epoch("2026-11-23T21:26:15 junk"), None);
        assert_eq!(parse_epoch("yesterday"), None);
    }
}
