//! The module's allocator: blocks of up to 8 KiB come from free lists, one per power-of-two size,
//! carved from 32 KiB chunks of the system allocator (wasi-libc's dlmalloc); larger blocks and
//! stricter alignments go to the system allocator itself.
//!
//! A review makes and drops some thousands of small blocks (JSON strings, maps, lists): through
//! dlmalloc each costs a search of its bins and, on free, the merging of neighbours, about a tenth
//! of a fresh `validate`'s instructions. Here a block is a list pop or a pointer bump, and a free a
//! list push. talc and rlsf, tried as global allocators, took more instructions than dlmalloc.
//! Freed blocks stay in their list for the next allocation of their size; chunks are never given
//! back, so the module keeps its peak of small blocks, at most twice their bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest block, 16 bytes: every block is 16-aligned, as `u128` needs.
const MIN_SHIFT: u32 = 4;
/// The largest pooled block, 8 KiB.
const MAX_SHIFT: u32 = 13;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
const ALIGN: usize = 1 << MIN_SHIFT;
/// dlmalloc starts with the initial memory above the module's data, about 100 KiB: three chunks of
/// this size fit there, where a second 64 KiB one made it grow the memory (an `mprotect` and a page
/// fault more per fresh instance on the hello Deployment, 24 faults against echo's 21).
const CHUNK: usize = 32 * 1024;

pub struct Pools(UnsafeCell<State>);

struct State {
    /// The first free block of each size; a free block holds the address of the next.
    free: [*mut u8; CLASSES],
    /// The part of the current chunk not carved yet.
    next: *mut u8,
    end: *mut u8,
}

// SAFETY: the module runs on one thread (wasm32 without the atomics feature); the global
// allocator is only installed there.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl Sync for Pools {}

impl Pools {
    pub const fn new() -> Pools {
        Pools(UnsafeCell::new(State {
            free: [ptr::null_mut(); CLASSES],
            next: ptr::null_mut(),
            end: ptr::null_mut(),
        }))
    }
}

impl Default for Pools {
    fn default() -> Self {
        Pools::new()
    }
}

/// The free list of a pooled layout: size rounded up to a power of two from 16 bytes.
#[inline(always)]
fn class(layout: Layout) -> Option<usize> {
    if layout.size() > 1 << MAX_SHIFT || layout.align() > ALIGN {
        return None;
    }
    let shift = usize::BITS - layout.size().saturating_sub(1).leading_zeros();
    Some((shift.max(MIN_SHIFT) - MIN_SHIFT) as usize)
}

impl State {
    /// A block of class `class`; null when the system allocator has no chunk to give.
    #[inline(always)]
    unsafe fn take(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if !head.is_null() {
            // SAFETY: a free block holds the address of the next free block of its class.
            self.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = ALIGN << class;
        if (self.end as usize) - (self.next as usize) < size && !self.refill() {
            return ptr::null_mut();
        }
        let block = self.next;
        // SAFETY: at least `size` bytes are left in the chunk.
        self.next = unsafe { block.add(size) };
        block
    }

    /// A new chunk to carve; the rest of the current one (less than 8 KiB) is left unused. False
    /// when the system allocator has none to give.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) -> bool {
        // SAFETY: CHUNK and ALIGN make a valid layout of non-zero size.
        let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN)) };
        if chunk.is_null() {
            return false;
        }
        self.next = chunk;
        // SAFETY: the chunk is CHUNK bytes long.
        self.end = unsafe { chunk.add(CHUNK) };
        true
    }

    /// Puts a block of class `class` on its free list.
    #[inline(always)]
    unsafe fn give(&mut self, block: *mut u8, class: usize) {
        // SAFETY: the block is at least 16 bytes and 16-aligned, and no longer in use.
        unsafe { block.cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = block;
    }
}

unsafe impl GlobalAlloc for Pools {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            // SAFETY: one thread, and no call re-enters another (the system allocator is not us).
            Some(class) => unsafe { (*self.0.get()).take(class) },
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(class) => {
                let block = unsafe { (*self.0.get()).take(class) };
                if !block.is_null() {
                    // SAFETY: the block holds at least `layout.size()` bytes.
                    unsafe { block.write_bytes(0, layout.size()) };
                }
                block
            }
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class(layout) {
            Some(class) => unsafe { (*self.0.get()).give(block, class) },
            None => unsafe { System.dealloc(block, layout) },
        }
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a new size that makes a valid layout with the same alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            // The block has room for any size of its class or a smaller one.
            (Some(old), Some(new)) if new <= old => block,
            // dlmalloc grows large blocks in place when it can.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks hold at least the smaller size, and they are distinct.
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block in use: where, its layout, and the byte it was filled with.
    struct Live {
        at: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn filled(live: &Live) -> bool {
        (0..live.layout.size()).all(|i| unsafe { *live.at.add(i) } == live.fill)
    }

    /// Random allocations, frees and reallocations of every size class and beyond: every block
    /// keeps its alignment and its contents, and no two live blocks overlap.
    #[test]
    fn blocks_keep_their_contents_and_never_overlap() {
        let pools = Pools::new();
        let mut live: Vec<Live> = Vec::new();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        for step in 0..20_000 {
            let fill = (step % 251) as u8;
            match next(3) {
                0 | 1 if live.len() < 300 => {
                    let size = match next(4) {
                        0 => 1 + next(16),
                        1 => 1 + next(1 << MAX_SHIFT),
                        2 => 1 + next(200),
                        _ => (1 << MAX_SHIFT) + next(20_000),
                    };
                    let align = [1, 2, 8, 16, 64][next(5)];
                    let layout = Layout::from_size_align(size, align).unwrap();
                    let at = unsafe { pools.alloc(layout) };
                    assert!(!at.is_null());
                    assert_eq!(at as usize % align, 0, "{layout:?}");
                    unsafe { at.write_bytes(fill, size) };
                    live.push(Live { at, layout, fill });
                }
                0 if !live.is_empty() => {
                    let block = live.swap_remove(next(live.len()));
                    assert!(filled(&block));
                    unsafe { pools.dealloc(block.at, block.layout) };
                }
                _ if !live.is_empty() => {
                    let i = next(live.len());
                    let old = &live[i];
                    assert!(filled(old));
                    let new_size = 1 + next(2 * old.layout.size() + 64);
                    let at = unsafe { pools.realloc(old.at, old.layout, new_size) };
                    assert!(!at.is_null());
                    let kept = old.layout.size().min(new_size);
                    for b in 0..kept {
                        assert_eq!(unsafe { *at.add(b) }, old.fill);
                    }
                    let layout = Layout::from_size_align(new_size, old.layout.align()).unwrap();
                    assert_eq!(at as usize % layout.align(), 0);
                    unsafe { at.write_bytes(fill, new_size) };
                    live[i] = Live { at, layout, fill };
                }
                _ => {}
            }
            if step % 1000 == 0 {
                let mut spans: Vec<(usize, usize)> = live
                    .iter()
                    .map(|l| (l.at as usize, l.at as usize + l.layout.size()))
                    .collect();
                spans.sort_unstable();
                assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "overlap");
                assert!(live.iter().all(filled));
            }
        }
        for block in live {
            assert!(filled(&block));
            unsafe { pools.dealloc(block.at, block.layout) };
        }
    }

    #[test]
    fn freed_blocks_are_reused_by_their_size() {
        let pools = Pools::new();
        let small = Layout::from_size_align(24, 8).unwrap();
        let a = unsafe { pools.alloc(small) };
        unsafe { pools.dealloc(a, small) };
        // 17 to 32 bytes share the 32-byte list.
        let b = unsafe { pools.alloc(Layout::from_size_align(32, 16).unwrap()) };
        assert_eq!(a, b);
        // Growing within the block's size keeps it where it is.
        let c = unsafe { pools.realloc(b, Layout::from_size_align(32, 16).unwrap(), 20) };
        assert_eq!(b, c);
        let zeroed = unsafe { pools.alloc_zeroed(Layout::from_size_align(100, 4).unwrap()) };
        assert!((0..100).all(|i| unsafe { *zeroed.add(i) } == 0));
    }

    #[test]
    fn classes() {
        let class_of = |size, align| class(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class_of(0, 1), Some(0));
        assert_eq!(class_of(16, 16), Some(0));
        assert_eq!(class_of(17, 1), Some(1));
        assert_eq!(class_of(1 << MAX_SHIFT, 8), Some(CLASSES - 1));
        assert_eq!(class_of((1 << MAX_SHIFT) + 1, 8), None);
        assert_eq!(class_of(8, 32), None);
    }
}
