//! Payload masking (RFC 6455 §5.3): `byte[i] ^= key[i % 4]`, resumable at
//! any offset so a payload can be unmasked piece by piece as it arrives.
//!
//! The one implementation of masking in the project: `wsframe` re-exports
//! these. Buffers of 128 bytes or more go to the kernel chosen once for this
//! CPU (AVX2 or NEON vectors, see the crate docs); shorter ones, most
//! messages, stay inline in the caller as a 64-bit word loop.

use core::mem::MaybeUninit;

use crate::arch;

/// Buffers shorter than this skip the SIMD set-up.
pub(crate) const SIMD_MIN_LEN: usize = 128;

/// XORs `buf` with the masking `key`, as if `buf` started at byte `offset`
/// of the payload (RFC 6455 §5.3).
///
/// Unmasking a payload in pieces gives the same bytes as unmasking it whole:
///
/// ```
/// use utf8stream::mask::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut whole = *b"Hello, WebSocket";
/// apply_mask(&mut whole, key, 0);
///
/// let mut pieces = *b"Hello, WebSocket";
/// let (a, b) = pieces.split_at_mut(5);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 5);
/// assert_eq!(whole, pieces);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    if buf.len() < SIMD_MIN_LEN {
        arch::portable::mask_in_place(buf, key);
    } else {
        mask_in_place_simd(buf, key);
    }
}

/// The SIMD path, out of line so the short one stays small.
#[inline(never)]
fn mask_in_place_simd(buf: &mut [u8], key: [u8; 4]) {
    arch::mask_in_place(arch::selected(), buf, key);
}

/// Writes `src` unmasked with `key` (as seen from `src[0]`: rotate it with
/// [`rotate_key`] for a piece that starts at payload offset `n`) into `dst`,
/// which need not be initialized: a copy out of a read buffer that is also
/// the unmasking pass. Afterwards every byte of `dst` is initialized.
///
/// ```
/// use core::mem::MaybeUninit;
/// use utf8stream::mask::unmask_into;
///
/// let key = [1, 2, 3, 4];
/// let mut dst = [MaybeUninit::uninit(); 5];
/// unmask_into(&mut dst, &[1, 2, 3, 4, 1 ^ b'!'], key);
/// // SAFETY: `unmask_into` initialized every byte.
/// let dst = dst.map(|b| unsafe { b.assume_init() });
/// assert_eq!(&dst, b"\0\0\0\0!");
/// ```
///
/// # Panics
///
/// If `dst` and `src` differ in length.
pub fn unmask_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    assert_eq!(
        dst.len(),
        src.len(),
        "dst and src must have the same length"
    );
    // SAFETY: `dst` is writable for `src.len()` bytes (`MaybeUninit<u8>` has
    // `u8`'s layout) and, being a `&mut`, does not overlap `src`.
    unsafe { unmask_copy(dst.as_mut_ptr().cast(), src, key) }
}

/// [`unmask_into`] on a raw destination.
///
/// # Safety
///
/// `dst` is writable for `src.len()` bytes (initialized or not) and does not
/// overlap `src`.
#[inline]
pub(crate) unsafe fn unmask_copy(dst: *mut u8, src: &[u8], key: [u8; 4]) {
    let kernel = if src.len() < SIMD_MIN_LEN {
        arch::Kernel::Portable
    } else {
        arch::selected()
    };
    // SAFETY: the caller's contract; `selected` hands out only kernels this
    // CPU runs.
    unsafe { arch::mask_copy(kernel, dst, src, key) }
}

/// The key as seen from byte `offset` of a payload whose byte 0 sees `key`.
///
/// ```
/// assert_eq!(utf8stream::mask::rotate_key([1, 2, 3, 4], 5), [2, 3, 4, 1]);
/// ```
#[inline]
pub const fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset % 4;
    [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]]
}

/// The obvious byte loop: the reference the fast paths are tested against.
#[doc(hidden)]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}
