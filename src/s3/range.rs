//! The `Range` request header, with S3's semantics: one byte range per request, a malformed or
//! multi-range header is ignored (the whole object is served with 200), an unsatisfiable range
//! is `InvalidRange` (416) carrying `Content-Range: bytes */<size>`.

use super::error::S3Result;
use crate::s3_error;

/// One byte range as the client wrote it, before the object's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRangeSpec {
    /// `bytes=first-last`, both inclusive.
    Bounded { first: u64, last: u64 },
    /// `bytes=first-`: from `first` to the end.
    From { first: u64 },
    /// `bytes=-length`: the last `length` bytes.
    Suffix { length: u64 },
}

/// Parse a `Range` header value. `None` means S3 ignores the header: another unit, a syntax
/// error, `last < first`, or several ranges (S3 serves one range per request).
pub fn parse_range(header: &str) -> Option<ByteRangeSpec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    match (parse_position(first)?, parse_position(last)?) {
        (Some(first), Some(last)) if first <= last => Some(ByteRangeSpec::Bounded { first, last }),
        (Some(first), None) => Some(ByteRangeSpec::From { first }),
        (None, Some(length)) => Some(ByteRangeSpec::Suffix { length }),
        _ => None,
    }
}

/// A position in a range spec: `Some(None)` when absent, `None` when not a decimal number.
/// Values beyond u64 saturate: they are beyond any object, which the caller then handles as
/// such (an unsatisfiable first byte, a last byte clamped to the size, a whole-object suffix).
fn parse_position(text: &str) -> Option<Option<u64>> {
    if text.is_empty() {
        return Some(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Some(text.parse().unwrap_or(u64::MAX)))
}

impl ByteRangeSpec {
    /// The most bytes this range can select, whatever the object's size; `None` for `first-`,
    /// which reaches the object's end.
    pub fn length_at_most(self) -> Option<u64> {
        match self {
            ByteRangeSpec::Bounded { first, last } => Some((last - first).saturating_add(1)),
            ByteRangeSpec::Suffix { length } => Some(length),
            ByteRangeSpec::From { .. } => None,
        }
    }

    /// The inclusive `(start, end)` to serve from an object of `size` bytes, `None` for the whole
    /// object with 200, or `InvalidRange`.
    ///
    /// As S3: a last byte beyond the object is clamped; a first byte at or beyond the size and a
    /// zero-length suffix are unsatisfiable (so every explicit first byte is on an empty object);
    /// a non-zero suffix on an empty object serves the (empty) object with 200, since no
    /// `Content-Range` can describe zero bytes.
    pub fn resolve(self, size: u64) -> S3Result<Option<(u64, u64)>> {
        match self {
            ByteRangeSpec::Bounded { first, .. } | ByteRangeSpec::From { first } if first >= size => {
                Err(invalid_range(size))
            }
            ByteRangeSpec::Bounded { first, last } => Ok(Some((first, last.min(size - 1)))),
            ByteRangeSpec::From { first } => Ok(Some((first, size - 1))),
            ByteRangeSpec::Suffix { length: 0 } => Err(invalid_range(size)),
            ByteRangeSpec::Suffix { .. } if size == 0 => Ok(None),
            ByteRangeSpec::Suffix { length } => Ok(Some((size - length.min(size), size - 1))),
        }
    }
}

/// Resolve an optional `Range` header against an object of `size` bytes: `Ok(None)` serves the
/// whole object with 200, `Ok(Some((start, end)))` serves those bytes (inclusive) with 206.
pub fn resolve_range(header: Option<&str>, size: u64) -> S3Result<Option<(u64, u64)>> {
    match header.and_then(parse_range) {
        Some(spec) => spec.resolve(size),
        None => Ok(None),
    }
}

/// `Content-Range` value of a 206 answer: `bytes start-end/size`.
pub fn content_range_header(start: u64, end: u64, size: u64) -> String {
    format!("bytes {start}-{end}/{size}")
}

fn invalid_range(size: u64) -> super::error::S3Error {
    s3_error!(InvalidRange).header("Content-Range", format!("bytes */{size}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::error::S3ErrorCode;

    fn bounded(first: u64, last: u64) -> Option<ByteRangeSpec> {
        Some(ByteRangeSpec::Bounded { first, last })
    }

    #[test]
    fn length_at_most_bounds_what_a_range_selects() {
        assert_eq!(parse_range("bytes=0-499").and_then(ByteRangeSpec::length_at_most), Some(500));
        assert_eq!(parse_range("bytes=5-5").and_then(ByteRangeSpec::length_at_most), Some(1));
        assert_eq!(parse_range("bytes=-300").and_then(ByteRangeSpec::length_at_most), Some(300));
        assert_eq!(parse_range("bytes=9-").and_then(ByteRangeSpec::length_at_most), None);
        let whole = format!("bytes=0-{}", u64::MAX);
        assert_eq!(parse_range(&whole).and_then(ByteRangeSpec::length_at_most), Some(u64::MAX));
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(parse_range("bytes=0-499"), bounded(0, 499));
        assert_eq!(parse_range("bytes=5-5"), bounded(5, 5));
        assert_eq!(parse_range("bytes=9500-"), Some(ByteRangeSpec::From { first: 9500 }));
        assert_eq!(parse_range("bytes=-500"), Some(ByteRangeSpec::Suffix { length: 500 }));
        assert_eq!(parse_range("bytes=-0"), Some(ByteRangeSpec::Suffix { length: 0 }));
    }

    #[test]
    fn tolerates_case_and_surrounding_whitespace() {
        assert_eq!(parse_range("  Bytes=1-2 "), bounded(1, 2));
        assert_eq!(parse_range("BYTES= 1-2"), bounded(1, 2));
    }

    #[test]
    fn ignores_what_s3_ignores() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=1-2x",
            "bytes=+1-2",
            "bytes=1 -2",
            "bytes=--1",
            "bytes=1-2-3",
            "bytes=0-1,4-5",
            "bytes=0-1,",
            "items=0-1",
            "0-1",
        ] {
            assert_eq!(parse_range(header), None, "{header:?}");
            assert_eq!(resolve_range(Some(header), 100), Ok(None), "{header:?}");
        }
    }

    #[test]
    fn no_header_is_the_whole_object() {
        assert_eq!(resolve_range(None, 100), Ok(None));
        assert_eq!(resolve_range(None, 0), Ok(None));
    }

    #[test]
    fn resolves_satisfiable_ranges() {
        let resolve = |h: &str, size| resolve_range(Some(h), size).unwrap();
        assert_eq!(resolve("bytes=0-499", 10_000), Some((0, 499)));
        assert_eq!(resolve("bytes=0-0", 1), Some((0, 0)));
        assert_eq!(resolve("bytes=9500-", 10_000), Some((9500, 9999)));
        assert_eq!(resolve("bytes=-500", 10_000), Some((9500, 9999)));
        assert_eq!(resolve("bytes=4-", 11), Some((4, 10)));
        assert_eq!(resolve("bytes=-7", 11), Some((4, 10)));
    }

    #[test]
    fn clamps_ends_beyond_the_object() {
        let resolve = |h: &str, size| resolve_range(Some(h), size).unwrap();
        assert_eq!(resolve("bytes=3145728-5242880", 4_000_000), Some((3_145_728, 3_999_999)));
        assert_eq!(resolve("bytes=0-99999999999999999999999", 10), Some((0, 9)));
        assert_eq!(resolve("bytes=-20", 10), Some((0, 9)));
        assert_eq!(resolve("bytes=-99999999999999999999999", 10), Some((0, 9)));
    }

    #[test]
    fn unsatisfiable_ranges_are_invalid_range_with_content_range() {
        for (header, size) in [
            ("bytes=40-50", 11),
            ("bytes=11-", 11),
            ("bytes=11-11", 11),
            ("bytes=99999999999999999999999-", 11),
            ("bytes=-0", 11),
            ("bytes=0-0", 0),
            ("bytes=0-", 0),
            ("bytes=40-50", 0),
            ("bytes=-0", 0),
        ] {
            let err = resolve_range(Some(header), size).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidRange, "{header} on {size}");
            assert_eq!(err.status(), 416);
            assert_eq!(err.headers, vec![("Content-Range".to_string(), format!("bytes */{size}"))]);
        }
    }

    #[test]
    fn a_suffix_on_an_empty_object_serves_it_whole() {
        assert_eq!(resolve_range(Some("bytes=-1"), 0), Ok(None));
        assert_eq!(resolve_range(Some("bytes=-512"), 0), Ok(None));
    }

    #[test]
    fn resolved_ranges_always_lie_inside_the_object() {
        for size in 0..6u64 {
            for header in ["bytes=0-", "bytes=2-", "bytes=1-3", "bytes=0-9", "bytes=-1", "bytes=-4"] {
                if let Ok(Some((start, end))) = resolve_range(Some(header), size) {
                    assert!(start <= end && end < size, "{header} on {size}: {start}-{end}");
                }
            }
        }
    }

    #[test]
    fn formats_content_range() {
        assert_eq!(content_range_header(0, 499, 10_000), "bytes 0-499/10000");
        assert_eq!(content_range_header(0, 0, 1), "bytes 0-0/1");
    }
}
