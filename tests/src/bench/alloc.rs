//! A counting global allocator for the benchmark binary: the system
//! allocator, with every allocation counted per thread (a thread-local
//! counter, no atomics on the allocation path) and folded every 256
//! allocations into the totals of the thread's group (`tag_thread`: a
//! function's thread, the load generator's; 0 for the rest).
//! `chathooks-bench` installs it with `#[global_allocator]`; nothing in the
//! product uses it.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct CountingAlloc;

/// Thread groups (0: untagged threads).
pub const GROUPS: usize = 16;
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static TOTAL_ALLOCS: [AtomicU64; GROUPS] = [ZERO; GROUPS];
static TOTAL_BYTES: [AtomicU64; GROUPS] = [ZERO; GROUPS];
static NEXT_GROUP: AtomicU64 = AtomicU64::new(1);
const FOLD_EVERY: u64 = 256;

thread_local! {
    /// (allocations, bytes) of this thread since it started.
    static THREAD: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// Not yet folded into the totals.
    static PENDING: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// This thread's group.
    static GROUP: Cell<usize> = const { Cell::new(0) };
}

/// A new group id for `tag_thread` (the last one is shared once all are taken).
pub fn new_group() -> usize {
    (NEXT_GROUP.fetch_add(1, Ordering::Relaxed) as usize).min(GROUPS - 1)
}

/// Count the calling thread's allocations from now on in `group`.
pub fn tag_thread(group: usize) {
    fold();
    let _ = GROUP.try_with(|g| g.set(group.min(GROUPS - 1)));
}

/// Fold the calling thread's pending counts into its group's totals.
pub fn fold() {
    let _ = PENDING.try_with(|p| {
        let (n, b) = p.replace((0, 0));
        let g = GROUP.try_with(Cell::get).unwrap_or(0);
        TOTAL_ALLOCS[g].fetch_add(n, Ordering::Relaxed);
        TOTAL_BYTES[g].fetch_add(b, Ordering::Relaxed);
    });
}

#[inline]
fn count(bytes: usize) {
    let bytes = bytes as u64;
    let _ = THREAD.try_with(|t| {
        let (n, b) = t.get();
        t.set((n + 1, b + bytes));
    });
    let _ = PENDING.try_with(|p| {
        let (n, b) = p.get();
        let (n, b) = (n + 1, b + bytes);
        if n >= FOLD_EVERY {
            let g = GROUP.try_with(Cell::get).unwrap_or(0);
            TOTAL_ALLOCS[g].fetch_add(n, Ordering::Relaxed);
            TOTAL_BYTES[g].fetch_add(b, Ordering::Relaxed);
            p.set((0, 0));
        } else {
            p.set((n, b));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are plain thread-local cells and relaxed atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (and reallocations) and their bytes on the calling thread so
/// far; zero when the counting allocator is not installed.
pub fn this_thread() -> (u64, u64) {
    THREAD.try_with(Cell::get).unwrap_or((0, 0))
}

/// Allocations and bytes of `group`'s threads so far (up to 255 per thread
/// not yet folded in).
pub fn group(group: usize) -> (u64, u64) {
    let g = group.min(GROUPS - 1);
    (
        TOTAL_ALLOCS[g].load(Ordering::Relaxed),
        TOTAL_BYTES[g].load(Ordering::Relaxed),
    )
}

/// Allocations and bytes of the whole process so far.
pub fn process() -> (u64, u64) {
    (0..GROUPS)
        .map(group)
        .fold((0, 0), |(n, b), (gn, gb)| (n + gn, b + gb))
}
