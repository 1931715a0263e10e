//! The buffer JSON is written into: the policy module's answers and the encoded annotations.
//!
//! serde_json writes a document in thousands of small pieces: a quote, a colon, a key, a short
//! value. Into a `Vec<u8>` each piece is a `memory.copy`, which wasmtime runs as a call out of the
//! module into the host's `memmove`, dozens of instructions for a piece of a few bytes, thousands of
//! times per answer (README: Performance). Pieces of up to 16 bytes are copied here with a few
//! fixed-size loads and stores instead; longer ones still go through `memory.copy`.

use std::io;

use serde::Serialize;

/// Copies of up to this many bytes stay in the module.
const SMALL: usize = 16;

/// A `Vec<u8>` that serde_json writes into; [`to_json_vec`] is the usual way in.
pub struct Output(Vec<u8>);

impl Output {
    pub fn with_capacity(capacity: usize) -> Output {
        Output(Vec::with_capacity(capacity))
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        if len > SMALL {
            self.0.extend_from_slice(bytes);
            return;
        }
        let at = self.0.len();
        // The answer's buffer is sized up front: the call to grow it is the rare case.
        if self.0.capacity() - at < len {
            self.0.reserve(len);
        }
        // SAFETY: the check or `reserve` left at least `len` bytes of capacity after `at`; every
        // write below stays inside `bytes` (read) and those `len` bytes (written), whose
        // overlapping halves cover all of them, so they are initialized before `set_len`. `bytes`
        // cannot lie in the spare capacity: nothing else can reach it while `self` is borrowed.
        unsafe {
            let src = bytes.as_ptr();
            let dst = self.0.as_mut_ptr().add(at);
            copy_small(src, dst, len);
            self.0.set_len(at + len);
        }
    }
}

/// `value` as JSON, written through an [`Output`] that starts with `capacity` bytes.
pub fn to_json_vec<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let mut output = Output::with_capacity(capacity);
    serde_json::to_writer(&mut output, value)?;
    Ok(output.into_inner())
}

/// Copies `len` (at most [`SMALL`]) bytes as two possibly overlapping halves of a fixed size,
/// which compile to plain loads and stores rather than a `memory.copy`.
///
/// # Safety
/// `src` must be readable and `dst` writable for `len` bytes; the ranges must not overlap.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: each read and write below is inside the first `len` bytes of its range.
    unsafe {
        if len >= 8 {
            let head = src.cast::<u64>().read_unaligned();
            let tail = src.add(len - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(head);
            dst.add(len - 8).cast::<u64>().write_unaligned(tail);
        } else if len >= 4 {
            let head = src.cast::<u32>().read_unaligned();
            let tail = src.add(len - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(head);
            dst.add(len - 4).cast::<u32>().write_unaligned(tail);
        } else if len > 0 {
            // 1 to 3 bytes: the first, the middle and the last (some the same byte).
            dst.write(src.read());
            dst.add(len / 2).write(src.add(len / 2).read());
            dst.add(len - 1).write(src.add(len - 1).read());
        }
    }
}

impl io::Write for Output {
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.put(bytes);
        Ok(bytes.len())
    }

    #[inline(always)]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Every length around the edges of the copies, at every offset into the source, each into a
    /// buffer whose spare capacity holds a known byte: a copy that writes past its piece shows.
    #[test]
    fn writes_every_length_and_nothing_past_it() {
        const GUARD: u8 = 0xAA;
        let source: Vec<u8> = (0..64u8)
            .map(|b| b.wrapping_mul(37).wrapping_add(11))
            .collect();
        for offset in 0..8 {
            for len in 0..=40 {
                let piece = &source[offset..offset + len];
                let mut buffer = vec![GUARD; 64];
                buffer.clear();
                let mut output = Output(buffer);
                output.write_all(b"{").unwrap();
                output.write_all(piece).unwrap();
                let spare: Vec<u8> = output
                    .0
                    .spare_capacity_mut()
                    .iter()
                    // SAFETY: `vec!` initialized all 64 bytes; `clear` and the writes kept that.
                    .map(|byte| unsafe { byte.assume_init() })
                    .collect();
                assert_eq!(
                    spare,
                    vec![GUARD; 64 - 1 - len],
                    "offset {offset}, length {len}"
                );
                let mut expected = b"{".to_vec();
                expected.extend_from_slice(piece);
                assert_eq!(
                    output.into_inner(),
                    expected,
                    "offset {offset}, length {len}"
                );
            }
        }
    }

    #[test]
    fn writes_json_as_serde_json_to_vec() {
        let value = serde_json::json!({"a": "x", "key with \"quotes\"": ["\u{1F600}", 1.5, null, {"b": "a longer string than sixteen bytes"}]});
        assert_eq!(
            to_json_vec(&value, 4).unwrap(),
            serde_json::to_vec(&value).unwrap()
        );
    }
}
