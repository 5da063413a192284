//! `memcpy`, `memmove` and `memset` as the bulk-memory instructions. SQLite's C calls them as
//! functions, and the clang that builds it (14) does not lower them to the instructions, so they
//! resolved to compiler-builtins' loops: copying pages into SQLite's statement journal and
//! b-tree cells was ~10% of the wasm's time in a push's profile. Rust's own copies already are
//! the instructions (its wasm32 target has bulk memory), so these bodies never call themselves.
//! Every runtime the package supports has bulk memory; wasm-opt already assumes it.
//!
//! `memory.copy` is a `memmove`, so `memcpy` is one too; a length of 0 touches nothing, whatever
//! the pointers (C allows null there, Rust's copies do not).

/// # Safety
/// As C's `memcpy`: `dest` and `src` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    memmove(dest, src, n)
}

/// # Safety
/// As C's `memmove`: `dest` and `src` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if n != 0 {
        core::ptr::copy(src, dest, n);
    }
    dest
}

/// # Safety
/// As C's `memset`: `dest` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, byte: i32, n: usize) -> *mut u8 {
    if n != 0 {
        core::ptr::write_bytes(dest, byte as u8, n);
    }
    dest
}
