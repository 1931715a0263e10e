//! Kubernetes resource quantities (`resource.Quantity` in k8s.io/apimachinery, `quantity.go`):
//! parsed, added, compared and printed as Kubernetes does.
//!
//! Kubernetes keeps a parsed value exactly down to 10^-9 and rounds anything finer away from zero,
//! so an integer count of nano-units holds every value it holds, and sums of them are exact. No
//! crate does this: the ones on crates.io parse to floats or to `rust_decimal` and print `2.5Gi`
//! where Kubernetes prints `2560Mi`. Like Kubernetes, a quantity remembers the kind of suffix it was
//! written with (decimal, binary, exponent), which decides how it is printed.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::describe::describe;

const NANO: i128 = 1_000_000_000;
/// Parsing caps quantities with a binary suffix at 2^63-1 (`maxAllowed`).
const BINARY_MAX: i128 = i64::MAX as i128 * NANO;
/// The largest magnitude the policy takes in: 10^24 units, Kubernetes' own largest test value
/// (`1e24`). Kubernetes parses larger ones, but no node holds them, and the bound leaves room in
/// the 128-bit sums for over 10^5 such values.
const LIMIT: i128 = 10i128.pow(24) * NANO;

/// How a quantity prints: the kind of suffix it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`.
    DecimalSi,
    /// `Ki` to `Ei`.
    BinarySi,
    /// `e3`, `E-6`.
    DecimalExponent,
}

/// A quantity: a whole number of nano-units and the format it prints in. `==` compares both;
/// [`Quantity::cmp_value`] compares values, as Kubernetes' `Cmp` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

/// Why a quantity was not taken in. The first three carry Kubernetes' own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    Format,
    Suffix,
    Numeric,
    TooLarge,
    /// A JSON value that is neither a string nor a number.
    NotAQuantity(String),
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityError::Format => f.write_str(
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
            QuantityError::Suffix => f.write_str("unable to parse quantity's suffix"),
            QuantityError::Numeric => f.write_str("unable to parse numeric part of quantity"),
            QuantityError::TooLarge => {
                f.write_str("larger than 1e24, more than the policy adds up")
            }
            QuantityError::NotAQuantity(found) => write!(f, "a quantity is a string, found {found}"),
        }
    }
}

impl Quantity {
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// `ParseQuantity`. Leading and trailing spaces are refused, as there.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        if text.is_empty() {
            return Err(QuantityError::Format);
        }
        if text == "0" {
            return Ok(Quantity::ZERO);
        }
        plain(text.as_bytes()).unwrap_or_else(|| Quantity::parse_general(text))
    }

    /// [`Quantity::parse`] for any text.
    fn parse_general(text: &str) -> Result<Quantity, QuantityError> {
        let scanned = scan(text.as_bytes())?;
        let (binary, exponent, format) = interpret(scanned.suffix).ok_or(QuantityError::Suffix)?;
        if !scanned.value.iter().any(u8::is_ascii_digit) {
            // "-." or "+.Pi": Kubernetes' fast path reads them as 0; its exact path, taken for
            // tiny exponents and the largest binary suffixes, finds no digits.
            let exact_path = if binary {
                exponent >= 50
            } else {
                exponent < -9
            };
            return if exact_path {
                Err(QuantityError::Numeric)
            } else {
                Ok(Quantity { nanos: 0, format })
            };
        }
        let magnitude = if binary {
            binary_nanos(scanned.num, scanned.denom, exponent)
        } else {
            decimal_nanos(scanned.num, scanned.denom, exponent)?
        };
        if magnitude > LIMIT {
            return Err(QuantityError::TooLarge);
        }
        // Binary values between 0 and 1 have no binary spelling.
        let format = if binary && magnitude > 0 && magnitude < NANO {
            Format::DecimalSi
        } else {
            format
        };
        Ok(Quantity {
            nanos: if scanned.positive {
                magnitude
            } else {
                -magnitude
            },
            format,
        })
    }

    /// A quantity as it stands in a JSON object, read as the API server reads it: strings with
    /// surrounding whitespace trimmed, numbers by their text, `null` as zero.
    pub fn from_json(value: &Value) -> Result<Quantity, QuantityError> {
        match value {
            Value::String(text) => Quantity::parse(text.trim()),
            Value::Number(number) => Quantity::parse(&number.to_string()),
            Value::Null => Ok(Quantity::ZERO),
            other => Err(QuantityError::NotAQuantity(describe(other))),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Kubernetes' `Cmp`: by value, whatever the format.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }

    /// Kubernetes' `Add`: the sum keeps this quantity's format, or takes `other`'s when this one is
    /// zero. `None` when the sum leaves the 128-bit range.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_add(other.nanos)?,
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        })
    }

    /// Kubernetes' `Sub`: the difference keeps this quantity's format, or takes `other`'s when
    /// this one is zero. `None` when the difference leaves the 128-bit range.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_sub(other.nanos)?,
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        })
    }

    /// [`Quantity::checked_add`] that stops at the 128-bit bound instead, past 10^5 values of the
    /// largest size the policy takes in (a pod's request body holds far fewer).
    pub fn saturating_add(&self, other: &Quantity) -> Quantity {
        self.checked_add(other).unwrap_or(Quantity {
            nanos: if other.nanos < 0 {
                i128::MIN + 1
            } else {
                i128::MAX
            },
            format: self.format,
        })
    }

    /// `RoundUp(Milli)`, which the API server applies to every resource list it stores
    /// (`SetDefaults_ResourceList`): finer values round away from zero.
    pub fn round_up_to_milli(&self) -> Quantity {
        const MILLI: i128 = 1_000_000;
        // 128-bit division is a library call in WebAssembly: 64 bits hold every usual value.
        let rest = match i64::try_from(self.nanos) {
            Ok(small) => i128::from(small % MILLI as i64),
            Err(_) => self.nanos % MILLI,
        };
        let nanos = if rest == 0 {
            self.nanos
        } else {
            self.nanos - rest + MILLI * self.nanos.signum()
        };
        Quantity { nanos, ..*self }
    }

    #[cfg(test)]
    fn from_parts(nanos: i128, format: Format) -> Quantity {
        Quantity { nanos, format }
    }
}

/// The canonical form (`CanonicalizeBytes`): no fractional digits, the largest suffix that loses
/// nothing, in the quantity's format.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let magnitude = self.nanos.unsigned_abs();
        let whole = magnitude.is_multiple_of(NANO as u128);
        // Binary values under 1024 or with a fraction print as decimal ones.
        if self.format == Format::BinarySi && whole && magnitude >= 1024 * NANO as u128 {
            let (mut mantissa, mut power) = (magnitude / NANO as u128, 0usize);
            while mantissa % 1024 == 0 {
                mantissa /= 1024;
                power += 1;
            }
            // Past Ei Kubernetes has no suffix and drops the magnitude (a value of at least
            // 2^70, only reachable by adding capped ones); the mantissa carries it here instead.
            while power > 6 {
                mantissa *= 1024;
                power -= 1;
            }
            f.write_str(sign)?;
            write_digits(f, mantissa)?;
            return f.write_str(["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power]);
        }
        let (mut mantissa, mut exponent) = (magnitude, -9i64);
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        // The exponent goes down to a multiple of three; the mantissa stays below the magnitude.
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        let suffix = match (self.format, exponent) {
            (Format::DecimalExponent, 0) => String::new(),
            (Format::DecimalExponent, _) => format!("e{exponent}"),
            (_, -9) => "n".to_owned(),
            (_, -6) => "u".to_owned(),
            (_, -3) => "m".to_owned(),
            (_, 0) => String::new(),
            (_, 3) => "k".to_owned(),
            (_, 6) => "M".to_owned(),
            (_, 9) => "G".to_owned(),
            (_, 12) => "T".to_owned(),
            (_, 15) => "P".to_owned(),
            (_, 18) => "E".to_owned(),
            // Decimal suffixes end at E: Kubernetes falls back to an exponent.
            (_, _) => format!("e{exponent}"),
        };
        f.write_str(sign)?;
        write_digits(f, mantissa)?;
        f.write_str(&suffix)
    }
}

/// A u128 in decimal without the standard library's u128 formatting, which is large in the module:
/// quantities almost always fit a u64.
fn write_digits(f: &mut fmt::Formatter<'_>, mut n: u128) -> fmt::Result {
    if let Ok(small) = u64::try_from(n) {
        return write!(f, "{small}");
    }
    let mut digits = [0u8; 39];
    let mut at = digits.len();
    while n > 0 {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    f.write_str(std::str::from_utf8(&digits[at..]).unwrap_or_default())
}

/// 10^0 to 10^19, every power of ten a u64 holds: `checked_pow` multiplies with overflow checks,
/// each a 128-bit library call in WebAssembly.
const POWERS_OF_TEN: [u64; 20] = {
    let mut powers = [1u64; 20];
    let mut at = 1;
    while at < powers.len() {
        powers[at] = powers[at - 1] * 10;
        at += 1;
    }
    powers
};

/// The quantities resource lists almost always hold, up to 18 digits and a suffix (`100m`, `2`,
/// `128Mi`), without the general path's 128-bit arithmetic per digit; `None` for any other text.
/// Gives what the general path gives (tested against it): the suffix decides the format, binary
/// values are capped at 2^63-1 units, decimal ones refused past [`LIMIT`].
fn plain(text: &[u8]) -> Option<Result<Quantity, QuantityError>> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 18 {
        return None;
    }
    let value = text[..digits]
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    let (binary, exponent, format) = interpret(&text[digits..])?;
    if format == Format::DecimalExponent {
        return None;
    }
    // Products that fit 64 bits skip the 128-bit multiplication, a library call in WebAssembly,
    // and so does the test: u64's `checked_mul` is that same call there. Factors of at most 64
    // significant bits together have a product below 2^64.
    let scaled = |value: u64, scale: u64| {
        if value.leading_zeros() + scale.leading_zeros() >= u64::BITS {
            i128::from(value * scale)
        } else {
            i128::from(value) * i128::from(scale)
        }
    };
    let nanos = if binary {
        match i64::try_from(value).ok()?.checked_shl(exponent as u32) {
            Some(units) if units >> exponent == value as i64 => scaled(units as u64, NANO as u64),
            _ => BINARY_MAX,
        }
    } else {
        // A decimal suffix's exponent is at least -9; up to G the scale fits 64 bits.
        let shift = (exponent + 9) as u32;
        let nanos = match POWERS_OF_TEN.get(shift as usize) {
            Some(&scale) => Some(scaled(value, scale)),
            None => 10i128.pow(shift).checked_mul(i128::from(value)),
        };
        match nanos {
            Some(nanos) if nanos <= LIMIT => nanos,
            _ => return Some(Err(QuantityError::TooLarge)),
        }
    };
    Some(Ok(Quantity { nanos, format }))
}

/// The parts of a quantity's text, as `parseQuantityString` splits it.
struct Scanned<'a> {
    positive: bool,
    /// The sign and number as written, before the suffix.
    value: &'a [u8],
    /// Integer digits without leading zeros ("0" when there are none).
    num: &'a [u8],
    denom: &'a [u8],
    suffix: &'a [u8],
}

/// `parseQuantityString`, step for step: it decides which odd spellings Kubernetes accepts.
fn scan(s: &[u8]) -> Result<Scanned<'_>, QuantityError> {
    let end = s.len();
    let mut positive = true;
    let mut pos = 0;
    match s.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    let done = |value, num, denom, suffix| {
        Ok(Scanned {
            positive,
            value,
            num,
            denom,
            suffix,
        })
    };
    // Leading zeros; nothing but zeros (or nothing at all after a sign) is 0.
    while pos < end && s[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return done(b"0", b"0", b"", b"");
    }
    let start = pos;
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    let num: &[u8] = if pos == start { b"0" } else { &s[start..pos] };
    if pos >= end {
        return done(s, num, b"", b"");
    }
    let mut denom: &[u8] = b"";
    if s[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && s[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[start..pos];
        if pos >= end {
            return done(s, num, denom, b"");
        }
    }
    let value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&s[pos]) {
        pos += 1;
    }
    if pos < end && matches!(s[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::Format);
    }
    done(value, num, denom, &s[suffix_start..])
}

/// A suffix's base (binary or not), exponent and format (`quantitySuffixer.interpret`).
fn interpret(suffix: &[u8]) -> Option<(bool, i32, Format)> {
    let decimal = |exponent| Some((false, exponent, Format::DecimalSi));
    let binary = |exponent| Some((true, exponent, Format::BinarySi));
    match suffix {
        b"" => decimal(0),
        b"n" => decimal(-9),
        b"u" => decimal(-6),
        b"m" => decimal(-3),
        b"k" => decimal(3),
        b"M" => decimal(6),
        b"G" => decimal(9),
        b"T" => decimal(12),
        b"P" => decimal(15),
        b"E" => decimal(18),
        b"Ki" => binary(10),
        b"Mi" => binary(20),
        b"Gi" => binary(30),
        b"Ti" => binary(40),
        b"Pi" => binary(50),
        b"Ei" => binary(60),
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            // strconv.ParseInt(rest, 10, 64), then int32(): Go wraps larger exponents.
            let (negative, digits) = match rest {
                [b'-', digits @ ..] => (true, digits),
                [b'+', digits @ ..] => (false, digits),
                digits => (false, digits),
            };
            if digits.is_empty() {
                return None;
            }
            let mut exponent: i64 = 0;
            for &digit in digits {
                if !digit.is_ascii_digit() {
                    return None;
                }
                let digit = i64::from(digit - b'0');
                exponent =
                    exponent
                        .checked_mul(10)?
                        .checked_add(if negative { -digit } else { digit })?;
            }
            Some((false, exponent as i32, Format::DecimalExponent))
        }
        _ => None,
    }
}

/// Digits as a number, `None` past 10^38 (at most 38 significant digits).
fn digits_value(digits: &[u8]) -> Option<i128> {
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    let digits = &digits[start..];
    if digits.len() > 38 {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0i128, |n, &d| n * 10 + i128::from(d - b'0')),
    )
}

/// |num.denom × 10^exponent| in nano-units, rounded away from zero.
fn decimal_nanos(num: &[u8], denom: &[u8], exponent: i32) -> Result<i128, QuantityError> {
    let mut joined;
    let digits = if denom.is_empty() {
        num
    } else {
        joined = num.to_vec();
        joined.extend_from_slice(denom);
        &joined
    };
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    let digits = &digits[start..];
    if digits.is_empty() {
        return Ok(0);
    }
    // The value is digits × 10^shift nano-units.
    let shift = i64::from(exponent) - denom.len() as i64 + 9;
    if shift >= 0 {
        if digits.len() as i64 + shift > 39 {
            return Err(QuantityError::TooLarge);
        }
        let base = digits_value(digits).ok_or(QuantityError::TooLarge)?;
        return 10i128
            .checked_pow(shift as u32)
            .and_then(|scale| base.checked_mul(scale))
            .ok_or(QuantityError::TooLarge);
    }
    let dropped = shift.unsigned_abs().min(digits.len() as u64) as usize;
    let (kept, rest) = digits.split_at(digits.len() - dropped);
    let whole = digits_value(kept).ok_or(QuantityError::TooLarge)?;
    // The digits start with a non-zero one, so a value with every digit dropped is not zero.
    let round_up = rest.iter().any(|&d| d != b'0');
    Ok(whole + i128::from(round_up))
}

/// |num.denom × 2^exponent| in nano-units, rounded away from zero and capped at 2^63-1 units.
fn binary_nanos(num: &[u8], denom: &[u8], exponent: i32) -> i128 {
    let Some(whole) = digits_value(num).filter(|&n| n < 10i128.pow(20)) else {
        return BINARY_MAX;
    };
    let scale = 1i128 << exponent;
    let units = whole * scale;
    if units > i64::MAX as i128 {
        return BINARY_MAX;
    }
    // The fraction times 2^exponent × 10^9, by long multiplication from its last digit: the carry
    // stays below the multiplier (at most 2^60 × 10^9), the product digits are the remainder.
    let multiplier = scale as u128 * NANO as u128;
    let (mut carry, mut remainder) = (0u128, false);
    for &digit in denom.iter().rev() {
        let product = u128::from(digit - b'0') * multiplier + carry;
        remainder |= !product.is_multiple_of(10);
        carry = product / 10;
    }
    let nanos = units * NANO + carry as i128 + i128::from(remainder);
    nanos.min(BINARY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    use super::Format::{BinarySi as Bin, DecimalExponent as Exp, DecimalSi as Dec};

    /// `decQuantity(i, exponent, format)` of quantity_test.go: i × 10^exponent.
    fn dec(i: i128, exponent: i32, format: Format) -> Quantity {
        let nanos = if exponent + 9 >= 0 {
            i * 10i128.pow((exponent + 9) as u32)
        } else {
            i / 10i128.pow((-9 - exponent) as u32)
        };
        Quantity::from_parts(nanos, format)
    }

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    // TestQuantityParse: value and format, then the same with "-" and "+" in front.
    #[rstest]
    #[case("0", dec(0, 0, Dec))]
    #[case("0n", dec(0, 0, Dec))]
    #[case("0u", dec(0, 0, Dec))]
    #[case("0m", dec(0, 0, Dec))]
    #[case("0Ki", dec(0, 0, Bin))]
    #[case("0k", dec(0, 0, Dec))]
    #[case("0Mi", dec(0, 0, Bin))]
    #[case("0M", dec(0, 0, Dec))]
    #[case("0Gi", dec(0, 0, Bin))]
    #[case("0G", dec(0, 0, Dec))]
    #[case("0Ti", dec(0, 0, Bin))]
    #[case("0T", dec(0, 0, Dec))]
    #[case("1", dec(1, 0, Dec))]
    #[case("1Ki", dec(1024, 0, Bin))]
    #[case("8Ki", dec(8 * 1024, 0, Bin))]
    #[case("7Mi", dec(7 * 1024 * 1024, 0, Bin))]
    #[case("6Gi", dec(6 * 1024 * 1024 * 1024, 0, Bin))]
    #[case("5Ti", dec(5 * 1024i128.pow(4), 0, Bin))]
    #[case("4Pi", dec(4 * 1024i128.pow(5), 0, Bin))]
    #[case("3Ei", dec(3 * 1024i128.pow(6), 0, Bin))]
    #[case("10Ti", dec(10 * 1024i128.pow(4), 0, Bin))]
    #[case("100Ti", dec(100 * 1024i128.pow(4), 0, Bin))]
    #[case("5n", dec(5, -9, Dec))]
    #[case("4u", dec(4, -6, Dec))]
    #[case("3m", dec(3, -3, Dec))]
    #[case("9", dec(9, 0, Dec))]
    #[case("8k", dec(8, 3, Dec))]
    #[case("50k", dec(5, 4, Dec))]
    #[case("7M", dec(7, 6, Dec))]
    #[case("6G", dec(6, 9, Dec))]
    #[case("5T", dec(5, 12, Dec))]
    #[case("40T", dec(4, 13, Dec))]
    #[case("300T", dec(3, 14, Dec))]
    #[case("2P", dec(2, 15, Dec))]
    #[case("1E", dec(1, 18, Dec))]
    #[case("1E-3", dec(1, -3, Exp))]
    #[case("1e3", dec(1, 3, Exp))]
    #[case("1E6", dec(1, 6, Exp))]
    #[case("1e9", dec(1, 9, Exp))]
    #[case("1E12", dec(1, 12, Exp))]
    #[case("1e15", dec(1, 15, Exp))]
    #[case("1E18", dec(1, 18, Exp))]
    #[case("1e14", dec(1, 14, Exp))]
    #[case("1e13", dec(1, 13, Exp))]
    #[case("100.035k", dec(100035, 0, Dec))]
    #[case("0.001", dec(1, -3, Dec))]
    #[case("0.0005k", dec(5, -1, Dec))]
    #[case("0.005", dec(5, -3, Dec))]
    #[case("0.05", dec(5, -2, Dec))]
    #[case("0.5", dec(5, -1, Dec))]
    #[case("0.00050k", dec(5, -1, Dec))]
    #[case("0.00500", dec(5, -3, Dec))]
    #[case("0.05000", dec(5, -2, Dec))]
    #[case("0.50000", dec(5, -1, Dec))]
    #[case("0.5e0", dec(5, -1, Exp))]
    #[case("0.5e-1", dec(5, -2, Exp))]
    #[case("0.5e-2", dec(5, -3, Exp))]
    #[case("10.035M", dec(10035, 3, Dec))]
    #[case("1.2e3", dec(12, 2, Exp))]
    #[case("1.3E+6", dec(13, 5, Exp))]
    #[case("1.40e9", dec(14, 8, Exp))]
    #[case("1.53E12", dec(153, 10, Exp))]
    #[case("1.6e15", dec(16, 14, Exp))]
    #[case("1.7E18", dec(17, 17, Exp))]
    #[case("9.01", dec(901, -2, Dec))]
    #[case("8.1k", dec(81, 2, Dec))]
    #[case("7.123456M", dec(7123456, 0, Dec))]
    #[case("6.987654321G", dec(6987654321, 0, Dec))]
    #[case("5.444T", dec(5444, 9, Dec))]
    #[case("40.1T", dec(401, 11, Dec))]
    #[case("300.2T", dec(3002, 11, Dec))]
    #[case("2.5P", dec(25, 14, Dec))]
    #[case("1.01E", dec(101, 16, Dec))]
    #[case("3.001n", dec(4, -9, Dec))]
    #[case("1.1E-9", dec(2, -9, Exp))]
    #[case("0.0000000001", dec(1, -9, Dec))]
    #[case("0.0000000005", dec(1, -9, Dec))]
    #[case("0.00000000050", dec(1, -9, Dec))]
    #[case("0.5e-9", dec(1, -9, Exp))]
    #[case("0.9n", dec(1, -9, Dec))]
    #[case("0.00000012345", dec(124, -9, Dec))]
    #[case("0.00000012354", dec(124, -9, Dec))]
    #[case("9Ei", Quantity::from_parts(BINARY_MAX, Bin))]
    #[case("9223372036854775807Ki", Quantity::from_parts(BINARY_MAX, Bin))]
    #[case("12E", dec(12, 18, Dec))]
    #[case("100.035Ki", dec(10243584, -2, Bin))]
    #[case("0.5Mi", dec(512 * 1024, 0, Bin))]
    #[case("0.05Gi", dec(536870912, -1, Bin))]
    #[case("0.025Ti", dec(274877906944, -1, Bin))]
    #[case("0.000000000001Ki", dec(2, -9, Dec))]
    #[case(".001", dec(1, -3, Dec))]
    #[case(".0001k", dec(100, -3, Dec))]
    #[case("1.", dec(1, 0, Dec))]
    #[case("1.G", dec(1, 9, Dec))]
    fn kubernetes_parse_table(#[case] input: &str, #[case] expected: Quantity) {
        assert_eq!(q(input), expected, "{input}");
        let negative = q(&format!("-{input}"));
        assert_eq!(negative.nanos, -expected.nanos, "-{input}");
        assert_eq!(negative.format, expected.format, "-{input}");
        assert_eq!(q(&format!("+{input}")), expected, "+{input}");
    }

    // TestQuantityParse's invalid list, Kubernetes' messages, and the bad input.
    #[rstest]
    #[case("", QuantityError::Format)]
    #[case("1.1.M", QuantityError::Format)]
    #[case("1+1.0M", QuantityError::Format)]
    #[case("0.1mi", QuantityError::Suffix)]
    #[case("0.1am", QuantityError::Format)]
    #[case("aoeu", QuantityError::Format)]
    #[case(".5i", QuantityError::Suffix)]
    #[case("1i", QuantityError::Suffix)]
    #[case("-3.01i", QuantityError::Suffix)]
    #[case("-3.01e-", QuantityError::Suffix)]
    #[case(" 1", QuantityError::Format)]
    #[case("1 ", QuantityError::Format)]
    #[case("1.2.3", QuantityError::Format)]
    #[case("1Qi", QuantityError::Format)]
    #[case("1K", QuantityError::Suffix)]
    #[case("Non-Numeric", QuantityError::Format)]
    #[case("1e99999999999999999999", QuantityError::Suffix)]
    #[case("-.Ei", QuantityError::Numeric)]
    #[case(".e-10", QuantityError::Numeric)]
    #[case("1e400", QuantityError::TooLarge)]
    #[case("1e25", QuantityError::TooLarge)]
    #[case("1000000000000000000000000001", QuantityError::TooLarge)]
    fn refused(#[case] input: &str, #[case] error: QuantityError) {
        assert_eq!(Quantity::parse(input), Err(error), "{input}");
    }

    /// Spellings Kubernetes accepts although they look wrong: a bare sign, a bare point, and an
    /// exponent that wraps in Go's int32 (2^32 is 0).
    #[rstest]
    #[case("-", "0")]
    #[case("+", "0")]
    #[case(".", "0")]
    #[case("-.", "0")]
    #[case("-.Ti", "0")]
    #[case("00012", "12")]
    #[case("1e4294967296", "1")]
    #[case("1e+3", "1e3")]
    #[case("1e24", "1e24")]
    fn odd_but_valid(#[case] input: &str, #[case] printed: &str) {
        assert_eq!(q(input).to_string(), printed, "{input}");
    }

    #[test]
    fn kubernetes_error_messages() {
        assert_eq!(
            QuantityError::Format.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        assert_eq!(
            QuantityError::Suffix.to_string(),
            "unable to parse quantity's suffix"
        );
    }

    // TestQuantityString: (value, canonical form, another spelling of it).
    #[rstest]
    #[case(dec(1024 * 1024 * 1024, 0, Bin), "1Gi", "1024Mi")]
    #[case(dec(300 * 1024 * 1024, 0, Bin), "300Mi", "307200Ki")]
    #[case(dec(6 * 1024, 0, Bin), "6Ki", "")]
    #[case(dec(1001 * 1024 * 1024 * 1024, 0, Bin), "1001Gi", "1025024Mi")]
    #[case(dec(1024i128.pow(4), 0, Bin), "1Ti", "1024Gi")]
    #[case(dec(5, 0, Bin), "5", "5000m")]
    #[case(dec(500, -3, Bin), "500m", "0.5")]
    #[case(dec(1, 9, Dec), "1G", "1000M")]
    #[case(dec(1000, 6, Dec), "1G", "0.001T")]
    #[case(dec(1000000, 3, Dec), "1G", "")]
    #[case(dec(1000000000, 0, Dec), "1G", "")]
    #[case(dec(1, -3, Dec), "1m", "1000u")]
    #[case(dec(80, -3, Dec), "80m", "")]
    #[case(dec(1080, -3, Dec), "1080m", "1.08")]
    #[case(dec(108, -2, Dec), "1080m", "1080000000n")]
    #[case(dec(10800, -4, Dec), "1080m", "")]
    #[case(dec(300, 6, Dec), "300M", "")]
    #[case(dec(1, 12, Dec), "1T", "")]
    #[case(dec(1, 18, Dec), "1E", "")]
    #[case(dec(1, 21, Dec), "1e21", "1000E")]
    #[case(dec(5, 21, Dec), "5e21", "5000E")]
    #[case(dec(1, 24, Dec), "1e24", "1000000E")]
    #[case(dec(1234567, 6, Dec), "1234567M", "")]
    #[case(dec(1234567, -3, Bin), "1234567m", "")]
    #[case(dec(3, 3, Dec), "3k", "")]
    #[case(dec(1025, 0, Bin), "1025", "")]
    #[case(dec(0, 0, Dec), "0", "")]
    #[case(dec(0, 0, Bin), "0", "")]
    #[case(dec(1, 9, Exp), "1e9", ".001e12")]
    #[case(dec(1, -3, Exp), "1e-3", "0.001e0")]
    #[case(dec(1, -9, Exp), "1e-9", "1000e-12")]
    #[case(dec(80, -3, Exp), "80e-3", "")]
    #[case(dec(300, 6, Exp), "300e6", "")]
    #[case(dec(1, 12, Exp), "1e12", "")]
    #[case(dec(1, 3, Exp), "1e3", "")]
    #[case(dec(3, 3, Exp), "3e3", "")]
    #[case(dec(0, 0, Exp), "0", "00")]
    #[case(dec(1, -9, Dec), "1n", "")]
    #[case(dec(80, -9, Dec), "80n", "")]
    #[case(dec(1080, -9, Dec), "1080n", "")]
    #[case(dec(108, -8, Dec), "1080n", "")]
    #[case(dec(10800, -10, Dec), "1080n", "")]
    #[case(dec(1, -6, Dec), "1u", "")]
    #[case(dec(80, -6, Dec), "80u", "")]
    #[case(dec(1080, -6, Dec), "1080u", "")]
    fn kubernetes_string_table(
        #[case] value: Quantity,
        #[case] canonical: &str,
        #[case] alternate: &str,
    ) {
        assert_eq!(value.to_string(), canonical);
        assert_eq!(q(canonical).to_string(), canonical);
        if !alternate.is_empty() {
            assert_eq!(q(alternate).to_string(), canonical, "{alternate}");
        }
        if !value.is_zero() {
            let negative = Quantity::from_parts(-value.nanos, value.format);
            assert_eq!(negative.to_string(), format!("-{canonical}"));
        }
    }

    // TestQuantityParseEmit.
    #[rstest]
    #[case("1Ki", "1Ki")]
    #[case("1Mi", "1Mi")]
    #[case("1Gi", "1Gi")]
    #[case("1024Mi", "1Gi")]
    #[case("1000M", "1G")]
    #[case(".001Ki", "1024m")]
    #[case(".000001Ki", "1024u")]
    #[case(".000000001Ki", "1024n")]
    #[case(".000000000001Ki", "2n")]
    fn kubernetes_parse_emit(#[case] input: &str, #[case] printed: &str) {
        assert_eq!(q(input).to_string(), printed);
        assert_eq!(q(&format!("-{input}")).to_string(), format!("-{printed}"));
    }

    // TestParseQuantity (the 18 to 20 digit table), positive and negative.
    #[rstest]
    #[case("999999999999999999", "")]
    #[case("999999999999999999.0", "999999999999999999")]
    #[case("999999999999999999.1", "999999999999999999100m")]
    #[case("9999999999999999999", "")]
    #[case("1E", "")]
    #[case("1000000000000000000", "1E")]
    #[case("9999999999999999999.0", "9999999999999999999")]
    #[case("1.0E", "1E")]
    #[case("1000000000000000000.0", "1E")]
    #[case("9999999999999999999000m", "9999999999999999999")]
    #[case("9999999999999999999.1", "9999999999999999999100m")]
    #[case("1.0000000000000000001E", "1000000000000000000100m")]
    #[case("1000000000000000000.1", "1000000000000000000100m")]
    #[case("1.000000000000000001E", "1000000000000000001")]
    #[case("1000000000000000001", "")]
    #[case("10E", "")]
    #[case("10000000000000000000", "10E")]
    #[case("10.0E", "10E")]
    #[case("10000000000000000000.0", "10E")]
    #[case("10000000000000000000000m", "10E")]
    #[case("10.0000000000000000001E", "10000000000000000000100m")]
    #[case("10000000000000000000.1", "10000000000000000000100m")]
    #[case("10.000000000000000001E", "10000000000000000001")]
    #[case("10000000000000000001", "")]
    #[case("9223372036854775806", "")]
    #[case("9223372036854775806.0", "9223372036854775806")]
    #[case("9223372036854775806000m", "9223372036854775806")]
    #[case("9223372036854775806.1", "9223372036854775806100m")]
    #[case("9223372036854775807", "")]
    #[case("9223372036854775807.0", "9223372036854775807")]
    #[case("9223372036854775807000m", "9223372036854775807")]
    #[case("9223372036854775807.1", "9223372036854775807100m")]
    #[case("9223372036854775808", "")]
    #[case("9223372036854775808.0", "9223372036854775808")]
    #[case("9223372036854775808000m", "9223372036854775808")]
    #[case("9223372036854775808.1", "9223372036854775808100m")]
    fn kubernetes_long_numbers(#[case] input: &str, #[case] canonical: &str) {
        let canonical = if canonical.is_empty() {
            input
        } else {
            canonical
        };
        assert_eq!(q(input).to_string(), canonical);
        assert_eq!(q(&format!("-{input}")).to_string(), format!("-{canonical}"));
    }

    // TestAdd and TestQuantityAddZeroPreservesSuffix: the sum keeps the first operand's format
    // unless it is zero.
    #[rstest]
    #[case(dec(10, 0, Dec), dec(1, 1, Dec), dec(20, 0, Dec))]
    #[case(dec(10, 0, Dec), dec(1, 0, Bin), dec(11, 0, Dec))]
    #[case(dec(10, 0, Bin), dec(1, 0, Dec), dec(11, 0, Bin))]
    #[case(dec(0, 0, Dec), dec(50, 0, Dec), dec(50, 0, Dec))]
    #[case(dec(50, 0, Dec), dec(0, 0, Dec), dec(50, 0, Dec))]
    #[case(dec(0, 0, Dec), dec(0, 0, Dec), dec(0, 0, Dec))]
    #[case(q("100m"), q("0"), q("100m"))]
    #[case(q("0"), q("1Gi"), q("1Gi"))]
    fn kubernetes_add(#[case] a: Quantity, #[case] b: Quantity, #[case] sum: Quantity) {
        assert_eq!(a.checked_add(&b), Some(sum));
    }

    // The examples, and sums across formats.
    #[rstest]
    #[case("500Mi", "0.5Gi", "1012Mi")]
    #[case("512Mi", "0.5Gi", "1Gi")]
    #[case("100m", "2", "2100m")]
    #[case("2", "100m", "2100m")]
    #[case("1.5", "1e3", "1001500m")]
    #[case("1e3", "1.5", "1001500e-3")]
    #[case("128Mi", "1G", "1134217728")]
    #[case("1Gi", "1", "1073741825")]
    #[case("1Ki", "1", "1025")]
    #[case("1Ki", "1Ki", "2Ki")]
    #[case("512Mi", "512Mi", "1Gi")]
    #[case("0.5", "0.5", "1")]
    #[case("4Ei", "4Ei", "8Ei")]
    fn sums(#[case] a: &str, #[case] b: &str, #[case] sum: &str) {
        assert_eq!(
            q(a).checked_add(&q(b)).map(|s| s.to_string()),
            Some(sum.to_owned())
        );
    }

    // TestSub and TestQuantitySubZeroPreservesSuffix: the difference keeps the first operand's
    // format unless it is zero.
    #[rstest]
    #[case(dec(10, 0, Dec), dec(1, 1, Dec), dec(0, 0, Dec))]
    #[case(dec(10, 0, Dec), dec(1, 0, Bin), dec(9, 0, Dec))]
    #[case(dec(10, 0, Bin), dec(1, 0, Dec), dec(9, 0, Bin))]
    #[case(dec(0, 0, Dec), dec(50, 0, Dec), dec(-50, 0, Dec))]
    #[case(dec(50, 0, Dec), dec(0, 0, Dec), dec(50, 0, Dec))]
    #[case(dec(0, 0, Dec), dec(0, 0, Dec), dec(0, 0, Dec))]
    #[case(q("100m"), q("0"), q("100m"))]
    #[case(q("1Gi"), q("0"), q("1Gi"))]
    #[case(q("0"), q("100m"), q("-100m"))]
    #[case(q("0"), q("1Gi"), q("-1Gi"))]
    fn kubernetes_sub(#[case] a: Quantity, #[case] b: Quantity, #[case] difference: Quantity) {
        assert_eq!(a.checked_sub(&b), Some(difference));
    }

    // What converting adds to a pod: after minus before, printed as Kubernetes prints it.
    #[rstest]
    #[case("2100m", "2", "100m")]
    #[case("1152Mi", "1Gi", "128Mi")]
    #[case("1Gi", "512Mi", "512Mi")]
    #[case("2", "2100m", "-100m")]
    #[case("500m", "500m", "0")]
    #[case("1", "1Ki", "-1023")]
    #[case("1Gi", "1G", "73741824")]
    #[case("1Gi", "1073741824", "0")]
    #[case("0.5Gi", "128Mi", "384Mi")]
    #[case("1e3", "1.5", "998500e-3")]
    #[case("0", "0", "0")]
    fn differences(#[case] a: &str, #[case] b: &str, #[case] difference: &str) {
        assert_eq!(
            q(a).checked_sub(&q(b)).map(|d| d.to_string()),
            Some(difference.to_owned())
        );
    }

    #[test]
    fn sub_out_of_range() {
        let low = Quantity::from_parts(i128::MIN + 1, Dec);
        assert_eq!(
            low.checked_sub(&q("1n")),
            Some(Quantity::from_parts(i128::MIN, Dec))
        );
        assert_eq!(low.checked_sub(&q("2n")), None);
    }

    // TestQuantityCmp.
    #[rstest]
    #[case("0", "0", Ordering::Equal)]
    #[case("100m", "50m", Ordering::Greater)]
    #[case("50m", "100m", Ordering::Less)]
    #[case("10000T", "100Gi", Ordering::Greater)]
    #[case("1Gi", "1073741824", Ordering::Equal)]
    fn kubernetes_cmp(#[case] a: &str, #[case] b: &str, #[case] order: Ordering) {
        assert_eq!(q(a).cmp_value(&q(b)), order);
    }

    // TestQuantityRoundUp at milli scale, as SetDefaults_ResourceList uses it.
    #[rstest]
    #[case("9.01", "9010m")]
    #[case("1n", "1m")]
    #[case("1001u", "2m")]
    #[case("-1001u", "-2m")]
    #[case("1Gi", "1Gi")]
    #[case("0.000000000001Ki", "1m")]
    fn round_up_to_milli(#[case] input: &str, #[case] rounded: &str) {
        assert_eq!(q(input).round_up_to_milli().to_string(), rounded);
    }

    // TestJSONWhitespace, numbers as the API server reads them, and values that are no quantity.
    #[rstest]
    #[case(json!(" 1"), Ok("1"))]
    #[case(json!("1 "), Ok("1"))]
    #[case(json!(1), Ok("1"))]
    #[case(json!(-1), Ok("-1"))]
    #[case(json!(0.5), Ok("500m"))]
    #[case(json!(1.5e3), Ok("1500"))]
    #[case(json!(null), Ok("0"))]
    #[case(json!(true), Err(QuantityError::NotAQuantity("the boolean true".into())))]
    #[case(json!({"cpu": 1}), Err(QuantityError::NotAQuantity("an object".into())))]
    fn from_json(#[case] value: Value, #[case] expected: Result<&str, QuantityError>) {
        assert_eq!(
            Quantity::from_json(&value).map(|q| q.to_string()),
            expected.map(str::to_owned)
        );
    }

    /// Suffixes and their size in nano-units, for generated quantities.
    const UNITS: [(&str, i128, Format); 15] = [
        ("n", 1, Dec),
        ("u", 1_000, Dec),
        ("m", 1_000_000, Dec),
        ("", NANO, Dec),
        ("k", NANO * 1_000, Dec),
        ("M", NANO * 1_000_000, Dec),
        ("G", NANO * 1_000_000_000, Dec),
        ("T", NANO * 1_000_000_000_000, Dec),
        ("Ki", NANO << 10, Bin),
        ("Mi", NANO << 20, Bin),
        ("Gi", NANO << 30, Bin),
        ("Ti", NANO << 40, Bin),
        ("e3", NANO * 1_000, Exp),
        ("e-3", 1_000_000, Exp),
        ("e6", NANO * 1_000_000, Exp),
    ];

    fn written() -> impl Strategy<Value = (String, i128)> {
        // Below 2^23, so that no binary value reaches Kubernetes' cap of 2^63-1.
        (0i64..8_000_000, 0..UNITS.len()).prop_map(|(mantissa, unit)| {
            let (suffix, size, _) = UNITS[unit];
            (format!("{mantissa}{suffix}"), i128::from(mantissa) * size)
        })
    }

    fn any_quantity() -> impl Strategy<Value = Quantity> {
        let format = prop_oneof![Just(Dec), Just(Bin), Just(Exp)];
        (-LIMIT..=LIMIT, format).prop_map(|(nanos, format)| {
            // Binary quantities above 2^63-1 cannot be parsed back (Kubernetes caps them).
            let nanos = if format == Bin {
                nanos.clamp(-BINARY_MAX, BINARY_MAX)
            } else {
                nanos
            };
            Quantity::from_parts(nanos, format)
        })
    }

    proptest! {
        /// Printing then parsing gives the value back, and printing that gives the same text.
        #[test]
        fn parse_of_print_is_identity(quantity in any_quantity()) {
            let text = quantity.to_string();
            let parsed = Quantity::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(parsed.nanos, quantity.nanos, "{}", text);
            prop_assert_eq!(parsed.to_string(), text);
        }

        /// Sums of written quantities are exact: mantissa × unit, added as integers.
        #[test]
        fn addition_is_exact(a in written(), b in written(), c in written()) {
            let sum = [&a, &b, &c]
                .iter()
                .try_fold(Quantity::ZERO, |sum, (text, _)| sum.checked_add(&q(text)));
            let expected = a.1 + b.1 + c.1;
            prop_assert_eq!(sum.map(|s| s.nanos), Some(expected));
            let sum = sum.unwrap_or(Quantity::ZERO);
            // A binary sum past 2^63-1 prints as Kubernetes prints it, but parses back capped.
            if sum.format != Bin || sum.nanos <= BINARY_MAX {
                prop_assert_eq!(q(&sum.to_string()).nanos, expected);
            }
        }

        /// Subtraction undoes addition, whatever the formats.
        #[test]
        fn sub_undoes_add(a in any_quantity(), b in any_quantity()) {
            let sum = a.checked_add(&b);
            prop_assert!(sum.is_some());
            let back = sum.and_then(|s| s.checked_sub(&b));
            prop_assert_eq!(back.map(|q| q.nanos), Some(a.nanos));
        }

        /// The path for plain quantities gives what the general path gives, on every text it
        /// takes, and takes every run of up to 18 digits with a suffix.
        #[test]
        fn plain_quantities_parse_as_any_other(
            digits in "[0-9]{1,20}",
            suffix in "(|n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e3|E-2|i|mm|\\.5|[a-zA-Z]{1,2})",
        ) {
            let text = format!("{digits}{suffix}");
            let general = Quantity::parse_general(&text);
            match plain(text.as_bytes()) {
                Some(fast) => prop_assert_eq!(fast, general, "{}", text),
                None => prop_assert!(
                    digits.len() > 18 || interpret(suffix.as_bytes()).is_none_or(|(_, _, f)| f == Format::DecimalExponent),
                    "{} left to the general path", text
                ),
            }
        }

        /// Rounding up to a milli-unit in 64 bits where the value fits gives the 128-bit result.
        #[test]
        fn milli_rounding_in_64_bits(nanos in any::<i64>().prop_map(i128::from), wide in any::<i128>()) {
            for nanos in [nanos, wide / 2] {
                let quantity = Quantity { nanos, format: Format::DecimalSi };
                const MILLI: i128 = 1_000_000;
                let rest = nanos % MILLI;
                let expected = if rest == 0 { nanos } else { nanos - rest + MILLI * nanos.signum() };
                prop_assert_eq!(quantity.round_up_to_milli().nanos, expected);
            }
        }

        /// Any text gets a quantity or an error, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in "[-+0-9.eEinumkKMGTPQ ]{0,24}|\\PC{0,12}") {
            if let Ok(quantity) = Quantity::parse(&text) {
                prop_assert!(quantity.nanos.abs() <= LIMIT);
            }
        }
    }
}
