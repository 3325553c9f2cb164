//! Wall-clock time without reading the clock: the engine derives it from the
//! `wall_epoch` given at construction plus the `Instant`s it is fed, and formats
//! it for the SIP `Date` header (RFC 3261 §20.17: RFC 1123 date, always GMT).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Maps engine `Instant`s to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    start: Instant,
    epoch: SystemTime,
}

impl WallClock {
    /// `epoch` is the wall-clock time at `start`.
    pub fn new(start: Instant, epoch: SystemTime) -> Self {
        Self { start, epoch }
    }

    /// Wall-clock time at `now`.
    pub fn at(&self, now: Instant) -> SystemTime {
        self.epoch + now.saturating_duration_since(self.start)
    }

    /// The `Date` header value at `now`, e.g. `Sat, 13 Nov 2010 23:29:00 GMT`.
    pub fn date_header(&self, now: Instant) -> String {
        http_date(self.at(now))
    }
}

/// Formats `t` as an RFC 1123 date in GMT. Times before 1970 print as the epoch.
pub fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // 1970-01-01 was a Thursday.
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = WD[(days % 7) as usize];
    let (y, mo, d) = civil_from_days(days as i64);
    // Written by hand (this is in every 200 to a REGISTER): the same text as
    // `format!("{wd}, {d:02} {mon} {y} {h:02}:{m:02}:{s:02} GMT")`.
    let mut out = String::with_capacity(29);
    let two = |out: &mut String, n: u64| {
        out.push(char::from(b'0' + (n / 10 % 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    out.push_str(wd);
    out.push_str(", ");
    two(&mut out, u64::from(d));
    out.push(' ');
    out.push_str(MON[(mo - 1) as usize]);
    out.push(' ');
    if (1000..=9999).contains(&y) {
        for div in [1000, 100, 10, 1] {
            out.push(char::from(b'0' + (y / div % 10) as u8));
        }
    } else {
        out.push_str(&y.to_string());
    }
    out.push(' ');
    two(&mut out, h);
    out.push(':');
    two(&mut out, m);
    out.push(':');
    two(&mut out, s);
    out.push_str(" GMT");
    out
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written date equals the `format!` it replaced, across years.
    #[test]
    fn http_date_matches_format() {
        const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MON: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let mut secs: u64 = 0;
        while secs < 400_000_000_000 {
            let days = secs / 86_400;
            let rem = secs % 86_400;
            let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
            let (y, mo, d) = civil_from_days(days as i64);
            let want = format!(
                "{}, {d:02} {} {y} {h:02}:{m:02}:{s:02} GMT",
                WD[(days % 7) as usize],
                MON[(mo - 1) as usize]
            );
            assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(secs)), want);
            secs = secs * 3 + 7_777;
        }
    }

    #[test]
    fn formats_rfc1123_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_289_690_940); // RFC 3665-era example
        assert_eq!(http_date(t), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn wall_clock_follows_instants() {
        let start = crate::test_epoch();
        let c = WallClock::new(start, UNIX_EPOCH + Duration::from_secs(100));
        assert_eq!(
            c.at(start + Duration::from_secs(5)),
            UNIX_EPOCH + Duration::from_secs(105)
        );
    }
}
