//! Human formatting of durations, bitrates and sizes: one convention for the diagnosis, the report and
//! the TUI (pure; durations through `humantime`, bitrates with an SI prefix: `2.04 Mbit/s`,
//! `640.0 kbit/s`).

use std::time::Duration;

/// A duration in milliseconds, humantime-style (`420us`, `12ms`, `3s 400ms`, `1m 23s`, `2h 5m`),
/// rounded to a precision that suits its size. Negative values get a `-` sign; non-finite ones `?`.
pub fn dur_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".into();
    }
    let sign = if ms < 0.0 { "-" } else { "" };
    // Capped at about 300 years: values from the network may be absurd, the arithmetic must not overflow.
    let ms = ms.abs().min(1e13);
    let us = (ms * 1000.0).round() as u64;
    let rounded_us = if us < 1_000 {
        // Below 1 ms: 10 µs precision.
        (us + 5) / 10 * 10
    } else if us < 10_000 {
        // Below 10 ms (RTT, jitter): 100 µs.
        (us + 50) / 100 * 100
    } else if us < 1_000_000 {
        // Below 1 s: 1 ms.
        (us + 500) / 1_000 * 1_000
    } else if us < 60_000_000 {
        // Below a minute: 100 ms.
        (us + 50_000) / 100_000 * 100_000
    } else if us < 3_600_000_000 {
        // Below an hour: 1 s.
        (us + 500_000) / 1_000_000 * 1_000_000
    } else {
        // 1 min.
        (us + 30_000_000) / 60_000_000 * 60_000_000
    };
    if rounded_us == 0 {
        return "0s".into();
    }
    format!(
        "{sign}{}",
        humantime::format_duration(Duration::from_micros(rounded_us))
    )
}

/// A point in time or a coarse span (timeline steps, log times, "selected for"): like [`dur_ms`]
/// but never finer than 1 ms from 1 ms up, so columns stay short (`12ms`, not `12ms 300us`).
pub fn at_ms(ms: f64) -> String {
    if ms.is_finite() && ms.abs() >= 1.0 && ms.abs() < 1000.0 {
        return dur_ms(ms.round());
    }
    dur_ms(ms)
}

/// A signed offset such as `+12ms` or `-3ms` (precision of [`at_ms`]).
pub fn offset_ms(ms: f64) -> String {
    if ms >= 0.0 {
        format!("+{}", at_ms(ms))
    } else {
        at_ms(ms)
    }
}

/// Bits per second with an SI prefix: `2.04 Mbit/s`, `96.0 kbit/s`, `0 bit/s`.
pub fn bitrate(bps: f64) -> String {
    if !bps.is_finite() || bps <= 0.0 {
        return "0 bit/s".into();
    }
    if bps >= 1e9 {
        format!("{:.2} Gbit/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.2} Mbit/s", bps / 1e6)
    } else if bps >= 1e3 {
        format!("{:.1} kbit/s", bps / 1e3)
    } else {
        format!("{bps:.0} bit/s")
    }
}

/// Bytes with a binary-ish decimal prefix: `512 B`, `12.3 kB`, `4.56 MB`, `1.20 GB`.
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 1e9 {
        format!("{:.2} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} kB", f / 1e3)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(dur_ms(0.0), "0s");
        assert_eq!(dur_ms(0.42), "420us");
        assert_eq!(dur_ms(12.4), "12ms");
        assert_eq!(dur_ms(1.94), "1ms 900us");
        assert_eq!(dur_ms(3_412.0), "3s 400ms");
        assert_eq!(dur_ms(83_400.0), "1m 23s");
        assert_eq!(dur_ms(7_530_000.0), "2h 6m");
        assert_eq!(dur_ms(-3.0), "-3ms");
        assert_eq!(dur_ms(f64::NAN), "?");
        assert!(!dur_ms(1e300).is_empty(), "huge values do not overflow");
        assert_eq!(offset_ms(11.0), "+11ms");
        assert_eq!(offset_ms(8.8), "+9ms");
        assert_eq!(at_ms(1.4), "1ms");
        assert_eq!(at_ms(0.18), "180us");
        assert_eq!(at_ms(3_412.0), "3s 400ms");
    }

    #[test]
    fn rates_and_sizes() {
        assert_eq!(bitrate(2_040_000.0), "2.04 Mbit/s");
        assert_eq!(bitrate(96_000.0), "96.0 kbit/s");
        assert_eq!(bitrate(0.0), "0 bit/s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(4_560_000), "4.56 MB");
    }
}
