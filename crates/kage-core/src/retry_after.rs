//! Reading `Retry-After`: how long the server asked to be left alone (RFC 9110 section 10.2.3), as seconds or
//! as an HTTP date. A 429, or a 503 that says when to come back, means "wait", never "signed out" and never
//! "offline" (I11): the server is there and knows the account; it wants fewer requests.

use std::time::{Duration, SystemTime};

/// The longest wait believed: a broken or hostile header cannot park an account for hours.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// A 429 that names no time.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The wait a `Retry-After` value asks for, clamped to [`MAX_WAIT`]; `None` if it is neither form. A date in
/// the past means "now" (zero).
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_WAIT))
}

/// The wait a response asks for: its `Retry-After` if it is a 429, or a 503 that carries one. Other answers
/// (a 503 without a time is a server or gateway in trouble) are not waits.
pub fn of_response(response: &reqwest::Response) -> Option<Duration> {
    let header = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
    let asked = header.and_then(|value| parse(value, SystemTime::now()));
    match response.status().as_u16() {
        429 => Some(asked.unwrap_or(DEFAULT_WAIT)),
        503 => asked,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i11_retry_after_reads_seconds_and_http_dates_and_is_clamped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse("86400", now), Some(MAX_WAIT), "clamped");
        let in_90_s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(parse(&in_90_s, now), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse(&past, now), Some(Duration::ZERO));
        let far = httpdate::fmt_http_date(now + Duration::from_secs(10_000));
        assert_eq!(parse(&far, now), Some(MAX_WAIT));
        for bad in ["", "soon", "-5", "1.5"] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
    }
}
