//! The host's node answers read in place: each node's name and kubelet version, found by following
//! the JSON's structure, every other value skipped many bytes at a time without being read.
//!
//! policy-server sends each node with its whole `metadata` (about 1 KB for an EKS node, nearly all
//! of it labels and annotations) for two short strings the rule reads. serde_json skips what it
//! does not build byte by byte, checking it as it goes: about 18,000 wasm instructions per node.
//! Here a skipped object or array is crossed 64 bytes at a time, by finding its closing bracket
//! among the brackets outside strings (simdjson's quote and escape masks), with wasm SIMD when the
//! module is built with it (`.cargo/config.toml`). The keys are followed by one loop over the whole
//! answer that knows where it is (the list, a node, its metadata, status or nodeInfo), not by a
//! call per object: most of the answer passes through that loop, its position in a local.
//!
//! What is skipped is not checked: the answers come from policy-server's serde_json. What is read
//! is read as serde reads it (escapes decoded, control characters and bad UTF-8 refused, `null` for
//! a missing field). Anything this reader does not expect (an escaped key, a duplicate field, a
//! value of another type, an item that is not an object, the end of the input) makes it return
//! `None`: serde then reads the answer and says what is wrong, so both readings agree on every
//! answer serde reads.

use std::borrow::Cow;
use std::hint::black_box;
use std::num::{NonZeroU64, NonZeroUsize};

/// A string as read: its bytes, valid UTF-8, escapes decoded.
type Text<'a> = Cow<'a, [u8]>;

/// Calls `each(name, kubelet_version)` (valid UTF-8) for every node of a NodeList answer, in
/// order; a node without a name or version gives an empty one.
pub(super) fn each_node(answer: &[u8], each: &mut dyn FnMut(&[u8], &[u8])) -> Option<()> {
    walk(answer, Level::List, each)
}

/// The name and kubelet version of a single Node answer (`get_resource`).
pub(super) fn one_node(answer: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut node = None;
    walk(answer, Level::Node, &mut |name, version| {
        node = Some((name.to_vec(), version.to_vec()));
    })?;
    node
}

/// The object (or array) the reader is in. Each is serde's `Option` field of the one above it,
/// read once (serde refuses duplicate fields, `null` ones too): bit `1 << level` of the fields
/// seen.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Level {
    /// The NodeList: `items`.
    List,
    /// The `items` array: nodes.
    Items,
    /// A node: `metadata` and `status`.
    Node,
    /// `metadata`: `name`.
    Metadata,
    /// `status`: `nodeInfo`.
    Status,
    /// `status.nodeInfo`: `kubeletVersion`.
    Info,
}

impl Level {
    /// A table, not a branch per level.
    fn parent(self) -> Level {
        const PARENT: [Level; 6] = [
            Level::List,
            Level::List,
            Level::Items,
            Level::Node,
            Level::Node,
            Level::Status,
        ];
        PARENT[self as usize]
    }
}

/// Reads the object that starts the answer as `top` (a NodeList or a Node), calling `each` at the
/// end of every node, then nothing but whitespace.
fn walk(bytes: &[u8], top: Level, each: &mut dyn FnMut(&[u8], &[u8])) -> Option<()> {
    let (byte, start) = next(bytes, 0)?;
    if byte != b'{' {
        return None;
    }
    // The position in a local: this loop crosses the whole answer.
    let mut at = start + 1;
    let mut level = top;
    // No member read yet in the object or array the reader is in.
    let mut first = true;
    // The fields seen (bit `1 << level`); bit 0, which no field has, for an answer that is one
    // node (`top` in the bits the loop keeps anyway).
    let single = u8::from(top == Level::Node);
    let mut seen = single;
    // The node's name and kubelet version where they were found: a word each, which the loop
    // keeps in registers with its position and level.
    let (mut name, mut version) = (Span::UNREAD, Span::UNREAD);
    loop {
        let (mut byte, mut here) = next(bytes, at)?;
        if byte == b'}' || byte == b']' {
            if (byte == b']') != (level == Level::Items) {
                return None;
            }
            at = here + 1;
            if level == Level::Node {
                emit(bytes, name, version, each)?;
                (name, version) = (Span::UNREAD, Span::UNREAD);
                seen &= 1 << Level::Items as u8 | 1;
                if seen & 1 != 0 {
                    return (space(bytes, at) == bytes.len()).then_some(());
                }
            }
            if level == Level::List {
                return (space(bytes, at) == bytes.len()).then_some(());
            }
            level = level.parent();
            first = false;
            continue;
        }
        if !first {
            if byte != b',' {
                return None;
            }
            (byte, here) = next(bytes, here + 1)?;
        }
        first = false;
        if level == Level::Items {
            if byte != b'{' {
                return None;
            }
            // Called through a pointer the optimisers cannot see through: wasm-opt inlines a
            // function called once, and in line it costs [`walk`] its registers.
            let compact: CompactRead = compact_node;
            if let Some((name, version, end)) = black_box(compact)(bytes, here + 1) {
                emit(bytes, name, version, each)?;
                at = end;
                continue;
            }
            at = here + 1;
            level = Level::Node;
            first = true;
            continue;
        }
        if byte != b'"' {
            return None;
        }
        let (field, value, here) = member(bytes, here + 1, level)?;
        let inner = match field {
            None => {
                at = skip(bytes, here, value)?;
                continue;
            }
            Some(Field::Text(index)) => {
                let read = if index == 0 { &mut name } else { &mut version };
                at = read_once(read, bytes, here)?;
                continue;
            }
            Some(Field::Open(inner)) => inner,
        };
        let field = 1 << inner as u8;
        if seen & field != 0 {
            return None;
        }
        seen |= field;
        let open = if inner == Level::Items { b'[' } else { b'{' };
        if value == open {
            at = here + 1;
            level = inner;
            first = true;
        } else {
            at = null(bytes, here)?;
        }
    }
}

/// [`compact_node`]'s signature.
type CompactRead = fn(&[u8], usize) -> Option<(Span, Span, usize)>;

/// A node as policy-server writes it (compact, each field once, every object read non-empty),
/// read without the loop of [`walk`]: its name and kubelet version, and the index after its
/// closing brace. `at` is the index after the node's opening brace. A loop per object, each
/// matching its own field as two numbers: [`walk`] also follows the list, spaces and `null`s, and
/// dispatches every member on its level, with more state across its loop than the compiler keeps
/// in registers. `None` for anything else (whitespace, a `null` object, a duplicate field, an
/// escaped key, a number, the end of the input...): [`walk`] then reads the same node from its
/// start and decides. Out of line, for the same registers.
#[inline(never)]
fn compact_node(bytes: &[u8], at: usize) -> Option<(Span, Span, usize)> {
    let (mut name, mut version) = (Span::UNREAD, Span::UNREAD);
    let (mut metadata, mut status, mut info) = (false, false, false);
    let end = members(bytes, at, |key, value| {
        if key.is(Name::METADATA) {
            members(bytes, open(bytes, value, &mut metadata)?, |key, value| {
                if key.is(Name::NAME) {
                    read_once(&mut name, bytes, value)
                } else {
                    compact_skip(bytes, value)
                }
            })
        } else if key.is(Name::STATUS) {
            members(bytes, open(bytes, value, &mut status)?, |key, value| {
                if !key.is(Name::NODE_INFO) {
                    return other_member(bytes, value);
                }
                members(bytes, open(bytes, value, &mut info)?, |key, value| {
                    if key.is(Name::KUBELET_VERSION) {
                        read_once(&mut version, bytes, value)
                    } else {
                        other_member(bytes, value)
                    }
                })
            })
        } else {
            other_member(bytes, value)
        }
    })?;
    Some((name, version, end))
}

/// The members of the object whose first key is at `at`, each through `member` (its key and its
/// value's index, giving the index after the value), and the index after the closing brace. In
/// line: each object of [`compact_node`] gets its own loop.
#[inline(always)]
fn members(
    bytes: &[u8],
    mut at: usize,
    mut member: impl FnMut(Key, usize) -> Option<usize>,
) -> Option<usize> {
    loop {
        let (key, value) = compact_key(bytes, at)?;
        at = member(key, value)?;
        if !compact_more(bytes, &mut at)? {
            return Some(at);
        }
    }
}

/// Past the opening brace of the object at `at`, which must come once (`seen`).
#[inline(always)]
fn open(bytes: &[u8], at: usize, seen: &mut bool) -> Option<usize> {
    if *seen || *bytes.get(at)? != b'{' {
        return None;
    }
    *seen = true;
    Some(at + 1)
}

/// The name or version at `at` into `read`, which must come once; the index after it.
#[inline(always)]
fn read_once(read: &mut Span, bytes: &[u8], at: usize) -> Option<usize> {
    if read.read() {
        return None;
    }
    let after;
    (*read, after) = text_member(bytes, at)?;
    Some(after)
}

/// A key as read: the sixteen bytes from its first. Compared with a name as a number, where
/// comparing the bytes of a slice compiles to a comparison per byte.
#[derive(Clone, Copy)]
struct Key(u128);

/// A field's name for [`Key::is`]: its bytes and its closing quote as a number, and which bytes
/// count. The quote stands for the length: a shorter key has its own quote before it, a longer
/// one (sixteen bytes or more too) a byte of its name there.
struct Name {
    bytes: u128,
    mask: u128,
}

impl Name {
    const METADATA: Name = Name::new(b"metadata");
    const STATUS: Name = Name::new(b"status");
    const NAME: Name = Name::new(b"name");
    const NODE_INFO: Name = Name::new(b"nodeInfo");
    const KUBELET_VERSION: Name = Name::new(b"kubeletVersion");

    const fn new(name: &[u8]) -> Name {
        let mut bytes = [0; 16];
        let mut at = 0;
        while at < name.len() {
            bytes[at] = name[at];
            at += 1;
        }
        bytes[name.len()] = b'"';
        Name {
            bytes: u128::from_le_bytes(bytes),
            mask: (1 << (8 * (name.len() + 1))) - 1,
        }
    }
}

impl Key {
    #[inline(always)]
    fn is(self, name: Name) -> bool {
        self.0 & name.mask == name.bytes
    }
}

/// The key whose opening quote is at `at`, and the index of its value, right after the colon.
#[inline(always)]
fn compact_key(bytes: &[u8], at: usize) -> Option<(Key, usize)> {
    if *bytes.get(at)? != b'"' {
        return None;
    }
    let chunk = bytes.get(at + 1..)?.first_chunk::<16>()?;
    let stops = chunk::string::<false>(chunk).stops;
    let colon = if stops == 0 {
        long_key_end(bytes, at + 17)?
    } else {
        let length = stops.trailing_zeros() as usize;
        if chunk[length] != b'"' {
            return None;
        }
        at + length + 2
    };
    let key = Key(u128::from_le_bytes(*chunk));
    (*bytes.get(colon)? == b':').then_some((key, colon + 1))
}

/// [`skip`] for a string, object or array at `at`; `None` for another value.
#[inline(always)]
fn compact_skip(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        first @ (b'"' | b'{' | b'[') => skip(bytes, at, first),
        _ => None,
    }
}

/// Past the rest of a key from `at` (its seventeenth byte, but in the last bytes of the answer);
/// `None` for one with an escape. Out of line: a call, not a copy of the loop, wherever a key is
/// read ([`compact_node`], [`member`]).
#[inline(never)]
fn long_key_end(bytes: &[u8], at: usize) -> Option<usize> {
    let end = string_end::<false>(bytes, at)?;
    (!end.escaped()).then(|| end.after())
}

/// [`compact_skip`] out of line, for the members of a node, its status and its nodeInfo that are
/// not read: policy-server sends none (it trims nodes to the fields the policy reads, but for
/// their metadata), so one copy of the loops serves all three objects.
#[inline(never)]
fn other_member(bytes: &[u8], at: usize) -> Option<usize> {
    compact_skip(bytes, at)
}

/// After a member's value at `at`: past a comma, `true`, or past the closing brace, `false`.
#[inline(always)]
fn compact_more(bytes: &[u8], at: &mut usize) -> Option<bool> {
    let more = match *bytes.get(*at)? {
        b',' => true,
        b'}' => false,
        _ => return None,
    };
    *at += 1;
    Some(more)
}

/// A field the reader reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// An object (an array for `items`) or `null`, whose fields are this level's.
    Open(Level),
    /// A string or `null`: the node's name (0) or kubelet version (1).
    Text(u8),
}

/// [`text`] out of line: one copy of its loop for the three places that read a name or a version.
#[inline(never)]
fn text_member(bytes: &[u8], at: usize) -> Option<(Span, usize)> {
    text(bytes, at)
}

/// The field `key` names in an object at `level`, by length first, then its bytes.
#[inline(always)]
fn field(level: Level, key: &[u8]) -> Option<Field> {
    match (level, key.len()) {
        (Level::List, 5) if key == b"items" => Some(Field::Open(Level::Items)),
        (Level::Node, 8) if key == b"metadata" => Some(Field::Open(Level::Metadata)),
        (Level::Node, 6) if key == b"status" => Some(Field::Open(Level::Status)),
        (Level::Metadata, 4) if key == b"name" => Some(Field::Text(0)),
        (Level::Status, 8) if key == b"nodeInfo" => Some(Field::Open(Level::Info)),
        (Level::Info, 14) if key == b"kubeletVersion" => Some(Field::Text(1)),
        _ => None,
    }
}

/// The member whose key's content starts at `at`: the field its key names at `level` (`None`
/// inside for one that is skipped), and its value's first byte and index. `None` for an escaped
/// key, or anything but a colon after it.
#[inline(always)]
fn member(bytes: &[u8], at: usize, level: Level) -> Option<(Option<Field>, u8, usize)> {
    let (field, after) = 'key: {
        // Every field read has a name shorter than sixteen bytes: a key that ends within the
        // first sixteen is compared in that chunk, whose size is known (no bounds checks), and
        // a longer one names no field read.
        let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) else {
            let after = long_key_end(bytes, at)?;
            break 'key (field(level, &bytes[at..after - 1]), after);
        };
        let stops = chunk::string::<false>(chunk).stops;
        if stops == 0 {
            break 'key (None, long_key_end(bytes, at + 16)?);
        }
        let length = stops.trailing_zeros() as usize;
        let key = chunk.get(..length)?;
        if chunk[length] != b'"' {
            return None;
        }
        (field(level, key), at + length + 1)
    };
    let (colon, after) = next(bytes, after)?;
    if colon != b':' {
        return None;
    }
    let (value, here) = next(bytes, after + 1)?;
    Some((field, value, here))
}

/// The byte at `at`, or past the whitespace there, and where it is.
#[inline(always)]
fn next(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    let byte = *bytes.get(at)?;
    if byte > b' ' {
        return Some((byte, at));
    }
    let at = space(bytes, at);
    Some((*bytes.get(at)?, at))
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

/// Past the `null` at `at`; `None` for anything else.
#[inline(always)]
fn null(bytes: &[u8], at: usize) -> Option<usize> {
    (bytes.get(at..)?.first_chunk::<4>()? == b"null").then_some(at + 4)
}

/// The string or `null` (empty) at `at`, as serde reads it into an `Option<String>`, and where it
/// ends. A string without escapes is checked here; one with escapes, when [`emit_decoded`]
/// decodes it.
#[inline(always)]
fn text(bytes: &[u8], at: usize) -> Option<(Span, usize)> {
    if *bytes.get(at)? != b'"' {
        return null(bytes, at).map(|after| (Span::NULL, after));
    }
    let end = string_end::<true>(bytes, at + 1)?;
    let raw = bytes.get(at + 1..end.after() - 1)?;
    if !end.escaped()
        && end.unusual()
        && (raw.iter().any(|&byte| byte < 0x20) || str::from_utf8(raw).is_err())
    {
        return None;
    }
    Some((Span::new(at + 1, raw.len(), end.escaped())?, end.after()))
}

/// Where a string read is in the answer, in one word: its content's start and length, whether
/// it was read (a `null` too), and whether it holds an escape.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Span(u64);

impl Span {
    /// A field not read (yet): serde's `None`, empty.
    const UNREAD: Span = Span(0);
    /// `null`: empty.
    const NULL: Span = Span(Span::READ);
    const READ: u64 = 1 << 62;
    const ESCAPED: u64 = 1 << 63;
    const LENGTH: u64 = (1 << 30) - 1;

    /// `None` past what a word holds (answers of 1 GiB and more, which serde reads).
    #[inline(always)]
    fn new(start: usize, length: usize, escaped: bool) -> Option<Span> {
        let start = u64::from(u32::try_from(start).ok()?);
        let length = u64::try_from(length).ok().filter(|&l| l <= Span::LENGTH)?;
        let escaped = if escaped { Span::ESCAPED } else { 0 };
        Some(Span(start | length << 32 | Span::READ | escaped))
    }

    fn read(self) -> bool {
        self.0 & Span::READ != 0
    }

    fn escaped(self) -> bool {
        self.0 & Span::ESCAPED != 0
    }

    /// The string's bytes as they are in the answer (quoted with `quotes`).
    #[inline(always)]
    fn raw(self, bytes: &[u8], quotes: bool) -> Option<&[u8]> {
        let start = ((self.0 & u64::from(u32::MAX)) as usize).checked_sub(usize::from(quotes))?;
        let length = (self.0 >> 32 & Span::LENGTH) as usize + 2 * usize::from(quotes);
        bytes.get(start..start + length)
    }
}

/// Calls `each` with a node's name and kubelet version.
#[inline(always)]
fn emit(bytes: &[u8], name: Span, version: Span, each: &mut dyn FnMut(&[u8], &[u8])) -> Option<()> {
    if name.escaped() || version.escaped() {
        return emit_decoded(bytes, name, version, each);
    }
    each(name.raw(bytes, false)?, version.raw(bytes, false)?);
    Some(())
}

/// [`emit`] for texts with escapes, decoded as serde reads them (`None` for one it refuses).
#[cold]
#[inline(never)]
fn emit_decoded(
    bytes: &[u8],
    name: Span,
    version: Span,
    each: &mut dyn FnMut(&[u8], &[u8]),
) -> Option<()> {
    let text = |span: Span| -> Option<Text<'_>> {
        if !span.escaped() {
            return span.raw(bytes, false).map(Cow::Borrowed);
        }
        let text = serde_json::from_slice::<String>(span.raw(bytes, true)?).ok()?;
        Some(Cow::Owned(text.into_bytes()))
    };
    each(&text(name)?, &text(version)?);
    Some(())
}

/// Past the value at `at`, whose first byte is `first`, unread and unchecked.
#[inline(always)]
fn skip(bytes: &[u8], at: usize, first: u8) -> Option<usize> {
    match first {
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
/// string that is read). Sixteen bytes a step in line, an escape stepped over where it is: most
/// strings end in the first step or two, and nearly none holds an escape.
#[inline(always)]
fn string_end<const TEXT: bool>(bytes: &[u8], mut at: usize) -> Option<StringEnd> {
    let mut flags = 0;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        let classes = chunk::string::<TEXT>(chunk);
        if classes.stops == 0 {
            if TEXT && classes.unusual != 0 {
                flags |= StringEnd::UNUSUAL;
            }
            at += 16;
            continue;
        }
        let stop = classes.stops.trailing_zeros();
        if TEXT && classes.unusual & ((1 << stop) - 1) != 0 {
            flags |= StringEnd::UNUSUAL;
        }
        at += stop as usize;
        if chunk[stop as usize] == b'"' {
            return StringEnd::new(at, flags);
        }
        flags |= StringEnd::ESCAPED;
        at += 2;
    }
    string_tail(bytes, at, flags)
}

/// [`string_end`] in the last bytes of the answer; it finds [`StringEnd::UNUSUAL`] for any string
/// (only a read one looks).
#[cold]
#[inline(never)]
fn string_tail(bytes: &[u8], mut at: usize, mut flags: u64) -> Option<StringEnd> {
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
    loop {
        if nesting.escape == 0 {
            // Most blocks of labels and annotations hold no bracket and no backslash: the depth
            // stays, and each quote flips whether the next block starts inside a string. A
            // tight loop over them gathers their quotes' parity.
            let mut quotes = 0;
            let mut rest = bytes.get(at..).unwrap_or_default();
            while let Some((block, after)) = rest.split_first_chunk::<64>() {
                let Some(block_quotes) = chunk::quiet(block) else {
                    break;
                };
                quotes ^= block_quotes;
                rest = after;
            }
            at = bytes.len() - rest.len();
            nesting.in_string ^= u64::from(quotes.count_ones() & 1).wrapping_neg();
        }
        let Some(block) = bytes.get(at..).and_then(<[u8]>::first_chunk::<64>) else {
            break;
        };
        if let Some(end) = nesting.block(block) {
            return NonZeroUsize::new(at + end + 1);
        }
        at += 64;
    }
    nested_tail(bytes, at, nesting)
}

/// [`nested_end`] in the last bytes of the answer, padded with spaces: out of line, so that the
/// padded copy takes no stack in the common case.
#[cold]
#[inline(never)]
fn nested_tail(bytes: &[u8], at: usize, mut nesting: Nesting) -> Option<NonZeroUsize> {
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
        i8x16_eq, i8x16_sub, u8x16_bitmask, u8x16_lt, u8x16_min, u8x16_splat, u8x16_sub_sat, v128,
        v128_any_true, v128_load, v128_or, v128_xor,
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

    /// A block's four vectors, written out: an array of vectors would live in the module's
    /// memory.
    #[inline(always)]
    fn load_block(block: &[u8; 64]) -> (v128, v128, v128, v128) {
        let chunks = block.as_chunks::<16>().0;
        (
            load(&chunks[0]),
            load(&chunks[1]),
            load(&chunks[2]),
            load(&chunks[3]),
        )
    }

    /// See the plain [`quiet`](super::chunk::quiet).
    #[inline(always)]
    pub(super) fn quiet(block: &[u8; 64]) -> Option<u64> {
        let (b0, b1, b2, b3) = load_block(block);
        // With bit 5 set, `[\]` and `{|}` are the three bytes from `{`: below 3 once `{` is
        // taken away, and the block holds one when the least of its bytes so taken is.
        let from_brace =
            |bytes: v128| i8x16_sub(v128_or(bytes, u8x16_splat(0x20)), u8x16_splat(b'{'));
        let least = u8x16_min(
            u8x16_min(from_brace(b0), from_brace(b1)),
            u8x16_min(from_brace(b2), from_brace(b3)),
        );
        if v128_any_true(u8x16_sub_sat(u8x16_splat(3), least)) {
            return None;
        }
        // The four vectors' quotes folded into one by xor: the same parity, one bitmask.
        let quote = |bytes: v128| i8x16_eq(bytes, u8x16_splat(b'"'));
        let quotes = v128_xor(
            v128_xor(quote(b0), quote(b1)),
            v128_xor(quote(b2), quote(b3)),
        );
        Some(u64::from(u8x16_bitmask(quotes)))
    }

    #[inline(always)]
    pub(super) fn structure(block: &[u8; 64]) -> Structure {
        let (b0, b1, b2, b3) = load_block(block);
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

    /// A block without a bracket or a backslash: a mask with as many bits as the block has
    /// quotes, or as many modulo 2 (all a skip needs of such a block). `None` for another block.
    #[inline(always)]
    pub(super) fn quiet(block: &[u8; 64]) -> Option<u64> {
        let mut quotes = 0;
        for (i, &byte) in block.iter().enumerate() {
            match byte {
                b'"' => quotes |= 1 << i,
                b'[' | b'\\' | b']' | b'{' | b'|' | b'}' => return None,
                _ => {}
            }
        }
        Some(quotes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use native_sidecar_testdata::{eks_node, eks_node_name};
    use serde_json::json;

    /// policy-server's EKS nodes (trimmed to the policy's masks, metadata whole) take the compact
    /// read, which finds what the general loop finds in the same node.
    #[test]
    fn eks_nodes_take_the_compact_read() {
        for at in [0, 1, 250, 4999] {
            let node = eks_node(at);
            let trimmed = json!({
                "metadata": node["metadata"],
                "status": {"nodeInfo": {"kubeletVersion": node["status"]["nodeInfo"]["kubeletVersion"]}},
            });
            let text = serde_json::to_vec(&trimmed).expect("a node serializes");
            let (name, version, end) = compact_node(&text, 1).expect("the compact read");
            assert_eq!(end, text.len());
            let name = name.raw(&text, false).expect("a name");
            let version = version.raw(&text, false).expect("a version");
            assert_eq!(name, eks_node_name(at).as_bytes());
            let mut walked = None;
            walk(&text, Level::Node, &mut |name, version| {
                walked = Some((name.to_vec(), version.to_vec()));
            })
            .expect("the general loop");
            assert_eq!(walked, Some((name.to_vec(), version.to_vec())));
        }
    }
}
