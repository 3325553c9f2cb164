//! Transcripts: the readable, byte-comparable record of one run, and golden files.
//!
//! One line per event, stamped with virtual time since the epoch:
//!
//! ```text
//! +0.000s script:12 send alice udp
//! +0.000s alice -> server UDP REGISTER sip:example.com SIP/2.0
//!     REGISTER sip:example.com SIP/2.0
//!     Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK...
//! +0.005s server <- alice UDP REGISTER sip:example.com SIP/2.0
//! +0.005s server -> alice UDP SIP/2.0 401 Unauthorized
//!     ...the whole message, indented...
//! +0.010s alice <- server UDP SIP/2.0 401 Unauthorized
//! +0.500s server timer
//! +32.000s server event SessionEnded { id: 1, cause: Timeout }
//! ```
//!
//! Sends carry the whole message; deliveries carry its first line. Golden
//! transcripts live beside the scenario (`<name>.transcript`) and are compared
//! on every run; `UPDATE_GOLDEN=1` rewrites them (ARCHITECTURE.md §7, in the
//! style of rustls's golden tests). Determinism is checked separately by
//! running each scenario twice with one seed and comparing the two bytes-for-bytes.

use std::path::Path;
use std::time::Duration;

/// `+S.mmms`, with microseconds appended only when they are not zero.
pub fn fmt_time(d: Duration) -> String {
    let micros = d.subsec_micros();
    if micros.is_multiple_of(1000) {
        format!("+{}.{:03}s", d.as_secs(), micros / 1000)
    } else {
        format!("+{}.{:06}s", d.as_secs(), micros)
    }
}

/// The first line of a message, lossily decoded, at most 120 characters.
pub fn first_line(data: &[u8]) -> String {
    let lead = data
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let rest = data.get(lead..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(rest.len());
    let line = String::from_utf8_lossy(rest.get(..end).unwrap_or(&[]));
    if lead == data.len() && !data.is_empty() {
        return format!("keep-alive ({} bytes)", data.len());
    }
    line.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(120)
        .collect()
}

/// A readable description of where two transcripts first differ (with context).
pub fn diff(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let at = e
        .iter()
        .zip(a.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = at.saturating_sub(3);
    let mut out = format!("first difference at line {}:\n", at + 1);
    for (i, l) in e.iter().enumerate().skip(from).take(at - from) {
        out.push_str(&format!("  {:>5}   {l}\n", i + 1));
    }
    for (i, l) in e.iter().enumerate().skip(at).take(6) {
        out.push_str(&format!("- {:>5}   {l}\n", i + 1));
    }
    for (i, l) in a.iter().enumerate().skip(at).take(6) {
        out.push_str(&format!("+ {:>5}   {l}\n", i + 1));
    }
    if e.len() != a.len() {
        out.push_str(&format!("(expected {} lines, got {})\n", e.len(), a.len()));
    }
    Some(out)
}

/// What [`check_golden`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Golden {
    /// The file matched.
    Matched,
    /// The file was (re)written because `UPDATE_GOLDEN=1`.
    Written,
}

/// True when `UPDATE_GOLDEN` is set to anything but `0` or empty.
pub fn update_requested() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with the golden file at `path`, or rewrites it when `update`.
///
/// # Errors
/// A missing or different golden file (with a diff), or an I/O error.
pub fn check_golden(path: &Path, actual: &str, update: bool) -> Result<Golden, String> {
    if update {
        std::fs::write(path, actual).map_err(|e| format!("writing {}: {e}", path.display()))?;
        return Ok(Golden::Written);
    }
    let expected = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            return Err(format!(
                "no golden transcript {} ({e}); run with UPDATE_GOLDEN=1 to create it",
                path.display()
            ));
        }
    };
    match diff(&expected, actual) {
        None => Ok(Golden::Matched),
        Some(d) => Err(format!(
            "transcript differs from {} (UPDATE_GOLDEN=1 rewrites it)\n{d}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(fmt_time(Duration::ZERO), "+0.000s");
        assert_eq!(fmt_time(Duration::from_millis(32_500)), "+32.500s");
        assert_eq!(fmt_time(Duration::from_micros(1_000_001)), "+1.000001s");
    }

    #[test]
    fn first_lines() {
        assert_eq!(
            first_line(b"INVITE sip:x SIP/2.0\r\nVia: x\r\n"),
            "INVITE sip:x SIP/2.0"
        );
        assert_eq!(first_line(b"\r\n\r\n"), "keep-alive (4 bytes)");
        assert_eq!(first_line(b"\r\nOPTIONS x"), "OPTIONS x");
        assert_eq!(first_line(b"a\x01b"), "a?b");
        assert_eq!(first_line(b""), "");
    }

    #[test]
    fn diff_points_at_the_first_change() {
        assert_eq!(diff("a\nb\n", "a\nb\n"), None);
        let d = diff("a\nb\nc\n", "a\nB\nc\n").expect("differs");
        assert!(
            d.contains("line 2") && d.contains("-     2   b") && d.contains("+     2   B"),
            "{d}"
        );
        let d = diff("a\n", "a\nextra\n").expect("differs");
        assert!(
            d.contains("+     2   extra") && d.contains("expected 1 lines, got 2"),
            "{d}"
        );
    }

    #[test]
    fn golden_round_trip() {
        let dir = std::env::temp_dir().join(format!("sb-golden-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("x.transcript");
        let _ = std::fs::remove_file(&p);
        assert!(check_golden(&p, "one\n", false).is_err());
        assert_eq!(check_golden(&p, "one\n", true), Ok(Golden::Written));
        assert_eq!(check_golden(&p, "one\n", false), Ok(Golden::Matched));
        let e = check_golden(&p, "two\n", false).expect_err("differs");
        assert!(e.contains("UPDATE_GOLDEN"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
