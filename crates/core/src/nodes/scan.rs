//! The host's node answers read in place: each node's name and kubelet version, found by following
//! the JSON's structure, every other value skipped many bytes at a time without being read.
//!
//! policy-server sends each node with its whole `metadata` (about 1 KB for an EKS node, nearly all
//! of it labels and annotations) for two short strings the rule reads. serde_json skips what it
//! does not build byte by byte, checking it as it goes: about 18,000 wasm instructions per node.
//! Here a skipped object or array is crossed 64 bytes at a time, by finding its closing bracket
//! among the brackets outside strings (simdjson's quote and escape masks), with wasm SIMD when the
//! module is built with it (`.cargo/config.toml`).
//!
//! What is skipped is not checked: the answers come from policy-server's serde_json. What is read
//! is read as serde reads it (escapes decoded, control characters and bad UTF-8 refused, `null` for
//! a missing field). Anything this reader does not expect (an escaped key, a duplicate field, a
//! value of another type, an item that is not an object, the end of the input) makes it return
//! `None`: serde then reads the answer and says what is wrong, so both readings agree on every
//! answer serde reads.

use std::borrow::Cow;
use std::num::{NonZeroU64, NonZeroUsize};

/// A string as read: its bytes, valid UTF-8, escapes decoded.
pub(super) type Text<'a> = Cow<'a, [u8]>;

/// Calls `each(name, kubelet_version)` for every node of a NodeList answer, in order; a node
/// without a name or version gives an empty one.
pub(super) fn each_node<'a>(
    answer: &'a [u8],
    each: &mut dyn FnMut(Text<'a>, Text<'a>),
) -> Option<()> {
    let mut reader = Reader {
        bytes: answer,
        at: 0,
    };
    let mut list = reader.object()?;
    let mut items = false;
    while reader.field(&mut list, &[b"items"])?.is_some() {
        once(&mut items)?;
        if reader.null()? {
            continue;
        }
        let mut elements = reader.array()?;
        while reader.element(&mut elements)? {
            let (name, version) = reader.node()?;
            each(name, version);
        }
    }
    reader.end()
}

/// The name and kubelet version of a single Node answer (`get_resource`).
pub(super) fn one_node(answer: &[u8]) -> Option<(Text<'_>, Text<'_>)> {
    let mut reader = Reader {
        bytes: answer,
        at: 0,
    };
    let node = reader.node()?;
    reader.end()?;
    Some(node)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Where a reader is in an object or array: before its first member, or after one.
struct Members {
    first: bool,
}

impl<'a> Reader<'a> {
    /// The next byte that is not whitespace, left unread.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.at = space(self.bytes, self.at);
        self.bytes.get(self.at).copied()
    }

    /// Reads `byte` if it comes next.
    #[inline(always)]
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        if next {
            self.at += 1;
        }
        next
    }

    /// Nothing but whitespace left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// `true` after a `null`, `false` (nothing read) before anything else.
    fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        let word = self.bytes.get(self.at..)?.first_chunk::<4>()?;
        self.at += 4;
        (word == b"null").then_some(true)
    }

    /// The start of an object, for [`Reader::field`].
    fn object(&mut self) -> Option<Members> {
        self.eat(b'{').then_some(Members { first: true })
    }

    /// The start of an object, or `null`.
    fn optional_object(&mut self) -> Option<Option<Members>> {
        if self.null()? {
            return Some(None);
        }
        self.object().map(Some)
    }

    /// The next field of an object named in `keys`: its index there, the reader at its value,
    /// which the caller must read. Other fields are skipped; `None` inside at the object's end.
    fn field(&mut self, object: &mut Members, keys: &[&[u8]]) -> Option<Option<usize>> {
        // The position in a local, not in `self`: this loop crosses most of the answer.
        let bytes = self.bytes;
        let mut at = space(bytes, self.at);
        loop {
            match *bytes.get(at)? {
                b'}' => {
                    self.at = at + 1;
                    return Some(None);
                }
                b',' if !object.first => at = space(bytes, at + 1),
                _ if object.first => object.first = false,
                _ => return None,
            }
            if *bytes.get(at)? != b'"' {
                return None;
            }
            let end = string_end::<false>(bytes, at + 1)?;
            if end.escaped() {
                return None;
            }
            let key = &bytes[at + 1..end.after() - 1];
            at = space(bytes, end.after());
            if *bytes.get(at)? != b':' {
                return None;
            }
            at = space(bytes, at + 1);
            if let Some(wanted) = keys.iter().position(|wanted| same(wanted, key)) {
                self.at = at;
                return Some(Some(wanted));
            }
            at = space(bytes, skip(bytes, at)?);
        }
    }

    /// The start of an array, for [`Reader::element`].
    fn array(&mut self) -> Option<Members> {
        self.eat(b'[').then_some(Members { first: true })
    }

    /// Whether another element follows, the reader at it; the caller must read it.
    fn element(&mut self, array: &mut Members) -> Option<bool> {
        if std::mem::replace(&mut array.first, false) {
            return Some(!self.eat(b']'));
        }
        if self.eat(b',') {
            return Some(true);
        }
        self.eat(b']').then_some(false)
    }

    /// A string or `null` (empty), as serde reads it into an `Option<String>`.
    fn text(&mut self) -> Option<Text<'a>> {
        if self.null()? {
            return Some(Cow::Borrowed(b""));
        }
        let start = self.at;
        if !self.eat(b'"') {
            return None;
        }
        let end = string_end::<true>(self.bytes, self.at)?;
        self.at = end.after();
        let quoted = &self.bytes[start..end.after()];
        if end.escaped() {
            return serde_json::from_slice::<String>(quoted)
                .ok()
                .map(|text| Cow::Owned(text.into_bytes()));
        }
        let raw = &quoted[1..quoted.len() - 1];
        if end.unusual() && (raw.iter().any(|&byte| byte < 0x20) || str::from_utf8(raw).is_err()) {
            return None;
        }
        Some(Cow::Borrowed(raw))
    }

    /// A Node object: `metadata.name` and `status.nodeInfo.kubeletVersion`, each level optional
    /// (serde's `Option` fields, which refuse duplicates).
    fn node(&mut self) -> Option<(Text<'a>, Text<'a>)> {
        let (mut name, mut version) = (None, None);
        let (mut metadata, mut status, mut node_info) = (false, false, false);
        let mut node = self.object()?;
        while let Some(field) = self.field(&mut node, &[b"metadata", b"status"])? {
            if field == 0 {
                once(&mut metadata)?;
                let Some(mut metadata) = self.optional_object()? else {
                    continue;
                };
                while self.field(&mut metadata, &[b"name"])?.is_some() {
                    set(&mut name, self.text()?)?;
                }
            } else {
                once(&mut status)?;
                let Some(mut status) = self.optional_object()? else {
                    continue;
                };
                while self.field(&mut status, &[b"nodeInfo"])?.is_some() {
                    once(&mut node_info)?;
                    let Some(mut info) = self.optional_object()? else {
                        continue;
                    };
                    while self.field(&mut info, &[b"kubeletVersion"])?.is_some() {
                        set(&mut version, self.text()?)?;
                    }
                }
            }
        }
        Some((name.unwrap_or_default(), version.unwrap_or_default()))
    }
}

/// Past the whitespace at `at`.
#[inline(always)]
fn space(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&byte) = bytes.get(at) {
        if byte > b' ' || !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
            break;
        }
        at += 1;
    }
    at
}

/// Past the value at `at`, unread and unchecked.
#[inline(always)]
fn skip(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => Some(string_end::<false>(bytes, at + 1)?.after()),
        b'{' | b'[' => nested_end(bytes, at + 1).map(NonZeroUsize::get),
        _ => {
            // A number, `true`, `false` or `null`: up to what ends it.
            let end = bytes[at..]
                .iter()
                .position(|byte| matches!(byte, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                .map_or(bytes.len(), |length| at + length);
            (end > at).then_some(end)
        }
    }
}

/// Equal keys, compared a word at a time (no call to `memcmp`).
#[inline(always)]
fn same(wanted: &[u8], key: &[u8]) -> bool {
    if wanted.len() != key.len() {
        return false;
    }
    match (wanted.first_chunk::<8>(), key.first_chunk::<8>()) {
        (Some(wanted_start), Some(key_start)) => {
            wanted_start == key_start && wanted.last_chunk::<8>() == key.last_chunk::<8>()
        }
        _ => match (wanted.first_chunk::<4>(), key.first_chunk::<4>()) {
            (Some(wanted_start), Some(key_start)) => {
                wanted_start == key_start && wanted.last_chunk::<4>() == key.last_chunk::<4>()
            }
            _ => wanted == key,
        },
    }
}

/// Marks a field read; `None` the second time (serde refuses duplicate fields).
fn once(seen: &mut bool) -> Option<()> {
    (!std::mem::replace(seen, true)).then_some(())
}

fn set<'a>(field: &mut Option<Text<'a>>, value: Text<'a>) -> Option<()> {
    field.replace(value).is_none().then_some(())
}

/// Where a string ends: the index after its closing quote, and whether it holds an escape, or
/// (for a string that is read) a control character or a byte past ASCII outside escapes. One
/// word, so that it comes back from a call in a register.
#[derive(Clone, Copy)]
struct StringEnd(NonZeroU64);

impl StringEnd {
    const ESCAPED: u64 = 1 << 63;
    const UNUSUAL: u64 = 1 << 62;

    #[inline(always)]
    fn new(quote: usize, flags: u64) -> Option<StringEnd> {
        NonZeroU64::new(quote as u64 + 1).map(|after| StringEnd(after | flags))
    }

    #[inline(always)]
    fn after(self) -> usize {
        (self.0.get() & !(StringEnd::ESCAPED | StringEnd::UNUSUAL)) as usize
    }

    #[inline(always)]
    fn escaped(self) -> bool {
        self.0.get() & StringEnd::ESCAPED != 0
    }

    #[inline(always)]
    fn unusual(self) -> bool {
        self.0.get() & StringEnd::UNUSUAL != 0
    }
}

/// Where the string whose content starts at `at` ends, with [`StringEnd::UNUSUAL`] when `TEXT` (a
/// string that is read).
#[inline(always)]
fn string_end<const TEXT: bool>(bytes: &[u8], at: usize) -> Option<StringEnd> {
    // Most strings end within sixteen bytes.
    if let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        let classes = chunk::string::<TEXT>(chunk);
        if classes.stops != 0 {
            let stop = classes.stops.trailing_zeros();
            if chunk[stop as usize] == b'"' {
                let unusual = if classes.unusual & ((1 << stop) - 1) != 0 {
                    StringEnd::UNUSUAL
                } else {
                    0
                };
                return StringEnd::new(at + stop as usize, unusual);
            }
        }
    }
    long_string_end(bytes, at)
}

/// [`string_end`] past the first sixteen bytes, or with an escape among them; it finds
/// [`StringEnd::UNUSUAL`] for any string (only a read one looks).
#[inline(never)]
fn long_string_end(bytes: &[u8], mut at: usize) -> Option<StringEnd> {
    let mut flags = 0;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        let classes = chunk::string::<true>(chunk);
        if classes.stops == 0 {
            if classes.unusual != 0 {
                flags |= StringEnd::UNUSUAL;
            }
            at += 16;
            continue;
        }
        let stop = classes.stops.trailing_zeros();
        if classes.unusual & ((1 << stop) - 1) != 0 {
            flags |= StringEnd::UNUSUAL;
        }
        at += stop as usize;
        if chunk[stop as usize] == b'"' {
            return StringEnd::new(at, flags);
        }
        flags |= StringEnd::ESCAPED;
        at += 2;
    }
    // The last bytes of the answer.
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => return StringEnd::new(at, flags),
            b'\\' => {
                flags |= StringEnd::ESCAPED;
                at += 2;
            }
            _ => {
                if !(0x20..0x80).contains(&byte) {
                    flags |= StringEnd::UNUSUAL;
                }
                at += 1;
            }
        }
    }
    None
}

/// Where the object or array whose content starts at `at` ends: the index after its closing
/// bracket. Brackets are counted outside strings and not matched by kind: what is skipped is not
/// checked.
#[inline(never)]
fn nested_end(bytes: &[u8], mut at: usize) -> Option<NonZeroUsize> {
    let mut nesting = Nesting {
        depth: 1,
        in_string: 0,
        escape: 0,
    };
    while let Some(block) = bytes.get(at..).and_then(<[u8]>::first_chunk::<64>) {
        if let Some(end) = nesting.block(block) {
            return NonZeroUsize::new(at + end + 1);
        }
        at += 64;
    }
    // The last bytes of the answer, padded with spaces.
    let tail = bytes.get(at..).unwrap_or_default();
    let mut padded = [b' '; 64];
    padded[..tail.len()].copy_from_slice(tail);
    nesting
        .block(&padded)
        .and_then(|end| NonZeroUsize::new(at + end + 1))
}

/// Where a skip is between blocks.
struct Nesting {
    depth: u32,
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// 1 when the previous block ended with an unfinished escape.
    escape: u64,
}

impl Nesting {
    /// Follows one block; where in it the depth comes back to zero, if it does.
    #[inline(always)]
    fn block(&mut self, block: &[u8; 64]) -> Option<usize> {
        let masks = chunk::structure(block);
        let escaped = escaped(masks.backslash, &mut self.escape);
        let inside = prefix_xor(masks.quote & !escaped) ^ self.in_string;
        self.in_string = (inside >> 63).wrapping_neg();
        let opens = masks.open & !inside;
        let closes = masks.close & !inside;
        let close_count = closes.count_ones();
        if close_count < self.depth {
            // The depth cannot reach zero in this block.
            self.depth = self.depth + opens.count_ones() - close_count;
            return None;
        }
        let mut brackets = opens | closes;
        while brackets != 0 {
            let at = brackets.trailing_zeros();
            if opens >> at & 1 != 0 {
                self.depth += 1;
            } else {
                self.depth -= 1;
                if self.depth == 0 {
                    return Some(at as usize);
                }
            }
            brackets &= brackets - 1;
        }
        None
    }
}

/// The bytes of a block that are escaped: preceded by an odd run of backslashes (simdjson's
/// branchless scan). `carry` is 1 when the previous block's run escapes this block's first byte,
/// and becomes the same for the next block.
#[inline(always)]
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    if backslash == 0 && *carry == 0 {
        return 0;
    }
    let backslash = backslash & !*carry;
    let follows_escape = (backslash << 1) | *carry;
    let odd_starts = backslash & !EVEN & !follows_escape;
    let (sum, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (sum << 1)) & follows_escape
}

/// Bit i set when an odd number of bits at or below i are set: the bytes from each opening quote
/// up to (not including) its closing one.
#[inline(always)]
fn prefix_xor(mut bits: u64) -> u64 {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits ^= bits << 16;
    bits ^= bits << 32;
    bits
}

/// Byte classes of a block, bit i for byte i.
struct Structure {
    quote: u64,
    backslash: u64,
    /// `{` or `[`.
    open: u64,
    /// `}` or `]`.
    close: u64,
}

/// Byte classes of sixteen bytes of a string, bit i for byte i.
struct StringClasses {
    /// `"` or `\`.
    stops: u32,
    /// Below 0x20 or from 0x80.
    unusual: u32,
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod chunk {
    use core::arch::wasm32::{
        i8x16_eq, u8x16_bitmask, u8x16_lt, u8x16_splat, v128, v128_any_true, v128_load, v128_or,
    };

    use super::{StringClasses, Structure};

    #[inline(always)]
    fn load(bytes: &[u8; 16]) -> v128 {
        // SAFETY: sixteen readable bytes; v128.load takes any alignment.
        unsafe { v128_load(bytes.as_ptr().cast()) }
    }

    #[inline(always)]
    pub(super) fn string<const TEXT: bool>(chunk: &[u8; 16]) -> StringClasses {
        let bytes = load(chunk);
        let stops = v128_or(
            i8x16_eq(bytes, u8x16_splat(b'"')),
            i8x16_eq(bytes, u8x16_splat(b'\\')),
        );
        StringClasses {
            stops: u8x16_bitmask(stops).into(),
            // The bitmask is each byte's top bit: the bytes past ASCII.
            unusual: if TEXT {
                let control = u8x16_lt(bytes, u8x16_splat(0x20));
                (u8x16_bitmask(control) | u8x16_bitmask(bytes)).into()
            } else {
                0
            },
        }
    }

    #[inline(always)]
    pub(super) fn structure(block: &[u8; 64]) -> Structure {
        // Written out: an array of vectors would live in the module's memory.
        let chunks = block.as_chunks::<16>().0;
        let (b0, b1, b2, b3) = (
            load(&chunks[0]),
            load(&chunks[1]),
            load(&chunks[2]),
            load(&chunks[3]),
        );
        // `[` and `{` differ only in bit 5, as do `]` and `}`.
        let case = u8x16_splat(0x20);
        let (f0, f1, f2, f3) = (
            v128_or(b0, case),
            v128_or(b1, case),
            v128_or(b2, case),
            v128_or(b3, case),
        );
        let bits = |m0: v128, m1: v128, m2: v128, m3: v128| {
            u64::from(u8x16_bitmask(m0))
                | u64::from(u8x16_bitmask(m1)) << 16
                | u64::from(u8x16_bitmask(m2)) << 32
                | u64::from(u8x16_bitmask(m3)) << 48
        };
        let equal = |bytes: v128, byte: u8| i8x16_eq(bytes, u8x16_splat(byte));
        let (e0, e1, e2, e3) = (
            equal(b0, b'\\'),
            equal(b1, b'\\'),
            equal(b2, b'\\'),
            equal(b3, b'\\'),
        );
        Structure {
            quote: bits(
                equal(b0, b'"'),
                equal(b1, b'"'),
                equal(b2, b'"'),
                equal(b3, b'"'),
            ),
            // Backslashes are rare: one test for the block.
            backslash: if v128_any_true(v128_or(v128_or(e0, e1), v128_or(e2, e3))) {
                bits(e0, e1, e2, e3)
            } else {
                0
            },
            open: bits(
                equal(f0, b'{'),
                equal(f1, b'{'),
                equal(f2, b'{'),
                equal(f3, b'{'),
            ),
            close: bits(
                equal(f0, b'}'),
                equal(f1, b'}'),
                equal(f2, b'}'),
                equal(f3, b'}'),
            ),
        }
    }
}

/// Without SIMD (native code, the JavaScript package): the same classes a byte at a time.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod chunk {
    use super::{StringClasses, Structure};

    #[inline(always)]
    pub(super) fn string<const TEXT: bool>(chunk: &[u8; 16]) -> StringClasses {
        let mut classes = StringClasses {
            stops: 0,
            unusual: 0,
        };
        for (i, &byte) in chunk.iter().enumerate() {
            classes.stops |= u32::from(byte == b'"' || byte == b'\\') << i;
            classes.unusual |= u32::from(!(0x20..0x80).contains(&byte)) << i;
        }
        classes
    }

    #[inline(always)]
    pub(super) fn structure(block: &[u8; 64]) -> Structure {
        let mut masks = Structure {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for (i, &byte) in block.iter().enumerate() {
            let bit = 1 << i;
            match byte {
                b'"' => masks.quote |= bit,
                b'\\' => masks.backslash |= bit,
                b'{' | b'[' => masks.open |= bit,
                b'}' | b']' => masks.close |= bit,
                _ => {}
            }
        }
        masks
    }
}
