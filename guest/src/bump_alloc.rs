//! The allocator every policy component gets: a bump pointer over linear memory.
//!
//! Each instance lives for exactly one call and is then thrown away, so memory never needs to
//! be reused: allocation is an add and a compare, freeing only rewinds the most recent
//! allocation (which makes growing the last `Vec` or `String` in place cheap), and the heap
//! starts in the pages the module already has, so most calls never execute `memory.grow`
//! (each growth costs microseconds of host work). When memory runs out it grows like any
//! allocator, up to the limit the host sets; past that, allocation fails and the instance
//! traps.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;
use core::ptr;

const PAGE: usize = 65_536;

unsafe extern "C" {
    /// The first byte after the module's static data and stack, placed by the linker.
    static __heap_base: u8;
}

struct BumpAllocator {
    /// The next free byte; 0 until the first allocation.
    next: Cell<usize>,
    /// One past the last byte of linear memory.
    end: Cell<usize>,
}

// SAFETY: wasm32 policy components are single-threaded: there is no other thread to race with.
unsafe impl Sync for BumpAllocator {}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator {
    next: Cell::new(0),
    end: Cell::new(0),
};

impl BumpAllocator {
    /// Makes sure linear memory reaches `end`, growing it if needed.
    fn reserve_until(&self, end: usize) -> bool {
        if self.next.get() == 0 {
            self.next.set(&raw const __heap_base as usize);
            self.end.set(wasm32::memory_size(0) * PAGE);
        }
        if end <= self.end.get() {
            return true;
        }
        let pages = (end - self.end.get()).div_ceil(PAGE);
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        self.end.set(wasm32::memory_size(0) * PAGE);
        true
    }

    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        ptr as usize + size == self.next.get()
    }
}

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Initialise `next` before reading it.
        if !self.reserve_until(0) {
            return ptr::null_mut();
        }
        let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
        let Some(end) = start.checked_add(layout.size()) else {
            return ptr::null_mut();
        };
        if !self.reserve_until(end) {
            return ptr::null_mut();
        }
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.is_last(ptr, layout.size()) {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.is_last(ptr, layout.size()) {
            let Some(end) = (ptr as usize).checked_add(new_size) else {
                return ptr::null_mut();
            };
            if !self.reserve_until(end) {
                return ptr::null_mut();
            }
            self.next.set(end);
            return ptr;
        }
        // SAFETY: the caller upholds `realloc`'s contract; `new_size` with the old alignment
        // is a valid layout by that contract.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}
