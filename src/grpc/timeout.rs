//! The `grpc-timeout` header (PROTOCOL-HTTP2.md, "Requests"):
//!
//! ```text
//! Timeout      → "grpc-timeout" TimeoutValue TimeoutUnit
//! TimeoutValue → {positive integer as ASCII string of at most 8 digits}
//! TimeoutUnit  → Hour / Minute / Second / Millisecond / Microsecond / Nanosecond
//!                "H"    "M"      "S"      "m"           "u"           "n"
//! ```
//!
//! Decisions:
//! * [`parse`] is strict about the grammar (1 to 8 ASCII digits, then one
//!   known unit, nothing else) but accepts the value `0`, which peers such
//!   as grpc-go send for a deadline that has already passed; a zero
//!   timeout means the call is already out of time.
//! * [`format()`] picks the finest unit whose value fits in 8 digits and
//!   rounds *up* within it, so the deadline the peer sees is never earlier
//!   than ours (it may be later by less than one unit). A zero duration is
//!   sent as `0n`. Durations beyond [`MAX`] (99 999 999 hours) are sent as
//!   `MAX`.

use core::fmt;
use core::time::Duration;

use smallvec::SmallVec;

/// The largest `TimeoutValue`: 8 digits.
const MAX_VALUE: u64 = 99_999_999;

/// The longest timeout the header can express: 99 999 999 hours.
pub const MAX: Duration = Duration::from_secs(MAX_VALUE * 3600);

/// Units from finest to coarsest, with their length in nanoseconds.
const UNITS: [(u8, u64); 6] = [
    (b'n', 1),
    (b'u', 1_000),
    (b'm', 1_000_000),
    (b'S', 1_000_000_000),
    (b'M', 60 * 1_000_000_000),
    (b'H', 3600 * 1_000_000_000),
];

/// Why a `grpc-timeout` value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutError {
    /// No digits before the unit (includes the empty value).
    NoDigits,
    /// More than 8 digits.
    TooManyDigits,
    /// A byte that is neither a digit nor, in last position, a unit.
    InvalidByte(u8),
    /// The value ends without a unit.
    MissingUnit,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::NoDigits => f.write_str("grpc-timeout: no digits before the unit"),
            TimeoutError::TooManyDigits => f.write_str("grpc-timeout: more than 8 digits"),
            TimeoutError::InvalidByte(b) => write!(f, "grpc-timeout: invalid byte {b:#04x}"),
            TimeoutError::MissingUnit => f.write_str("grpc-timeout: no unit after the digits"),
        }
    }
}

impl std::error::Error for TimeoutError {}

/// Parses a `grpc-timeout` value such as `1S` or `250m`.
///
/// Never overflows: the largest value, `99999999H`, is [`MAX`].
pub fn parse(value: &[u8]) -> Result<Duration, TimeoutError> {
    let Some((&unit, digits)) = value.split_last() else {
        return Err(TimeoutError::NoDigits);
    };
    let Some(&(_, nanos_per_unit)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(if unit.is_ascii_digit() {
            TimeoutError::MissingUnit
        } else {
            TimeoutError::InvalidByte(unit)
        });
    };
    if digits.is_empty() {
        return Err(TimeoutError::NoDigits);
    }
    if let Some(&bad) = digits.iter().find(|b| !b.is_ascii_digit()) {
        return Err(TimeoutError::InvalidByte(bad));
    }
    if digits.len() > 8 {
        return Err(TimeoutError::TooManyDigits);
    }
    let n = digits
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    // n < 10^8 and a unit is at most 3.6e12 ns, so whole seconds and the
    // remainder are computed without overflow.
    let secs_per_unit = nanos_per_unit / 1_000_000_000;
    if secs_per_unit > 0 {
        Ok(Duration::from_secs(n * secs_per_unit))
    } else {
        Ok(Duration::from_nanos(n * nanos_per_unit))
    }
}

/// Formats a duration as a `grpc-timeout` value (at most 8 digits and a
/// unit), rounding up to the finest unit that fits; see the module docs.
pub fn format(timeout: Duration) -> SmallVec<[u8; 9]> {
    let nanos = timeout.as_nanos();
    let (unit, value) = if nanos == 0 {
        (b'n', 0)
    } else {
        UNITS
            .iter()
            .find_map(|&(unit, per)| {
                let v = nanos.div_ceil(u128::from(per));
                u64::try_from(v)
                    .ok()
                    .filter(|&v| v <= MAX_VALUE)
                    .map(|v| (unit, v))
            })
            .unwrap_or((b'H', MAX_VALUE))
    };
    let mut digits = [0u8; 8];
    let mut n = value;
    let mut i = digits.len();
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast is exact.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out = SmallVec::new();
    out.extend_from_slice(&digits[i..]);
    out.push(unit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(d: Duration) -> String {
        String::from_utf8(format(d).to_vec()).unwrap()
    }

    #[test]
    fn parse_each_unit() {
        assert_eq!(parse(b"1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse(b"2M"), Ok(Duration::from_secs(120)));
        assert_eq!(parse(b"3S"), Ok(Duration::from_secs(3)));
        assert_eq!(parse(b"4m"), Ok(Duration::from_millis(4)));
        assert_eq!(parse(b"5u"), Ok(Duration::from_micros(5)));
        assert_eq!(parse(b"6n"), Ok(Duration::from_nanos(6)));
        assert_eq!(parse(b"0n"), Ok(Duration::ZERO));
        assert_eq!(parse(b"00000010S"), Ok(Duration::from_secs(10)));
        assert_eq!(parse(b"99999999H"), Ok(MAX));
        assert_eq!(parse(b"99999999n"), Ok(Duration::from_nanos(99_999_999)));
    }

    #[test]
    fn parse_rejects_malformed() {
        use TimeoutError::*;
        let cases: [(&[u8], TimeoutError); 14] = [
            (b"", NoDigits),
            (b"S", NoDigits),
            (b"1", MissingUnit),
            (b"123", MissingUnit),
            (b"1s", InvalidByte(b's')),
            (b"1h", InvalidByte(b'h')),
            (b"1 S", InvalidByte(b' ')),
            (b" 1S", InvalidByte(b' ')),
            (b"1S ", InvalidByte(b' ')),
            (b"-1S", InvalidByte(b'-')),
            (b"+1S", InvalidByte(b'+')),
            (b"1.5S", InvalidByte(b'.')),
            (b"123456789S", TooManyDigits),
            (b"1SS", InvalidByte(b'S')),
        ];
        for (v, e) in cases {
            assert_eq!(parse(v), Err(e), "{:?}", String::from_utf8_lossy(v));
        }
        assert_eq!(parse(b"\xffS"), Err(InvalidByte(0xff)));
        assert_eq!(parse(&[b'9'; 1000]), Err(MissingUnit));
        let mut long = vec![b'9'; 1000];
        long.push(b'H');
        assert_eq!(parse(&long), Err(TooManyDigits));
        assert!(!TooManyDigits.to_string().is_empty());
    }

    #[test]
    fn format_picks_finest_unit() {
        assert_eq!(fmt(Duration::ZERO), "0n");
        assert_eq!(fmt(Duration::from_nanos(1)), "1n");
        assert_eq!(fmt(Duration::from_nanos(99_999_999)), "99999999n");
        assert_eq!(fmt(Duration::from_nanos(100_000_000)), "100000u");
        assert_eq!(fmt(Duration::from_secs(1)), "1000000u");
        assert_eq!(fmt(Duration::from_secs(100)), "100000m");
        assert_eq!(fmt(Duration::from_secs(100_000)), "100000S");
        assert_eq!(fmt(Duration::from_secs(100_000_000)), "1666667M");
        assert_eq!(fmt(Duration::from_secs(6_000_000_000)), "1666667H");
        assert_eq!(fmt(MAX), "99999999H");
        assert_eq!(fmt(MAX + Duration::from_secs(1)), "99999999H");
        assert_eq!(fmt(Duration::MAX), "99999999H");
    }

    #[test]
    fn format_rounds_up() {
        // 100_000_001 ns does not fit in 8 digits of ns; 100001 us covers it.
        assert_eq!(fmt(Duration::from_nanos(100_000_001)), "100001u");
        // Just over 99999999 s worth of ms rounds up to minutes.
        let d = Duration::new(99_999_999 * 60 + 1, 0);
        assert_eq!(fmt(d), "1666667H");
        // 1.5 ms at 8 digits of ns is exact; 0.5 ns cannot occur, but 1 s
        // plus 1 ns at microsecond precision rounds up.
        assert_eq!(fmt(Duration::from_micros(1500)), "1500000n");
        assert_eq!(fmt(Duration::new(100, 1)), "100001m");
    }

    #[test]
    fn round_trip_never_shortens() {
        // Deterministic pseudo-random durations over many magnitudes.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let shift = i % 60;
            let secs = (x >> 20) >> shift;
            let nanos = u32::try_from(x % 1_000_000_000).unwrap();
            let d = Duration::new(secs.min(MAX.as_secs()), nanos);
            let wire = format(d);
            assert!(wire.len() <= 9);
            let back = parse(&wire).unwrap();
            if d <= MAX {
                assert!(back >= d, "{d:?} -> {back:?}");
                // Within one unit of the chosen precision.
                let unit = UNITS
                    .iter()
                    .find(|u| u.0 == *wire.last().unwrap())
                    .unwrap()
                    .1;
                assert!(back.as_nanos() - d.as_nanos() < u128::from(unit));
            } else {
                assert_eq!(back, MAX);
            }
        }
    }

    #[test]
    fn exact_values_round_trip_exactly() {
        for &(unit, per) in &UNITS {
            for v in [0u64, 1, 7, 10, 12_345, 99_999_999] {
                let nanos = u128::from(v) * u128::from(per);
                let d = Duration::new(
                    u64::try_from(nanos / 1_000_000_000).unwrap(),
                    u32::try_from(nanos % 1_000_000_000).unwrap(),
                );
                let mut wire = v.to_string().into_bytes();
                wire.push(unit);
                assert_eq!(parse(&wire), Ok(d));
                assert_eq!(parse(&format(d)), Ok(d));
            }
        }
    }
}
