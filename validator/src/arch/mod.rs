//! The SIMD kernels, one file per instruction set, and the choice between
//! them: the CPU is asked once, and the answer is cached in an atomic that
//! every later call reads (as memchr and simdutf8 do).
//!
//! Each instruction set defines a few primitives on its vector type `V`
//! (`LANES` bytes: loads, stores, XOR, saturating subtraction, a 16-entry
//! table lookup by high or low nibble, "the bytes N places before"); the
//! macros below write the UTF-8 block check, the block loop and the masking
//! loops once on top of them, and each ISA file instantiates them.
//!
//! The check is the lookup-table method of Keiser and Lemire ("Validating
//! UTF-8 in less than one instruction per byte", 2021): three 16-entry
//! tables, indexed by the nibbles of each byte and of the byte before it,
//! flag every invalid pair; a saturating compare flags a missing or extra
//! third and fourth byte. Everything but a code point cut at the very end of
//! the input is judged; the caller completes that one with the next chunk.

use core::sync::atomic::{AtomicU8, Ordering};

pub(crate) mod portable;

/// The bytes each step of a block loop handles, whatever the vector width.
pub(crate) const BLOCK: usize = 64;

/// How far ahead of its loads the loop over a long chunk prefetches: past
/// the end of a 4 KiB chunk, where the next one usually lies (a read buffer,
/// a message's frames). Measured on Zen 3 with 1 MiB of ASCII fed in 4 KiB
/// chunks (the source in L3), best of 300 runs: 1.04-1.10x the loop without
/// it at 2 KiB ahead; 1 KiB and 4 KiB gained less, 256-512 B nothing; on
/// multi-byte text, where the loop is bound by its arithmetic, nothing.
#[allow(dead_code)] // not on targets without a SIMD kernel
const PREFETCH_CHECK: usize = 2048;

/// How far ahead of the loads the fused loops prefetch. Without it a loop runs at
/// about half speed on a source that is not in cache (the `unmask_utf8`
/// bench on 16 MiB: 7.5 GiB/s without, 13.4-14.4 at 4 KiB ahead, less at 2 or
/// 8 KiB).
#[allow(dead_code)] // not on targets without a SIMD kernel
const PREFETCH: usize = 4096;

// The error classes of the method, one bit each; a pair of bytes is invalid
// when the three lookups share a bit.
const TOO_SHORT: u8 = 1 << 0; // a lead not followed by a continuation
const TOO_LONG: u8 = 1 << 1; // a continuation after ASCII
const OVERLONG_3: u8 = 1 << 2; // E0 80..9F
const TOO_LARGE: u8 = 1 << 3; // F4 90.., F5..FF
const SURROGATE: u8 = 1 << 4; // ED A0..BF
const OVERLONG_2: u8 = 1 << 5; // C0, C1
const TOO_LARGE_1000: u8 = 1 << 6; // F5.. followed by 80..8F
const OVERLONG_4: u8 = 1 << 6; // F0 80..8F
const TWO_CONTS: u8 = 1 << 7; // two continuations in a row
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

/// By the high nibble of the previous byte.
#[allow(dead_code)] // not on targets without a SIMD kernel
const PREV_HIGH: [u8; 16] = [
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    TOO_SHORT | OVERLONG_2,
    TOO_SHORT,
    TOO_SHORT | OVERLONG_3 | SURROGATE,
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
];

/// By the low nibble of the previous byte.
#[allow(dead_code)] // not on targets without a SIMD kernel
const PREV_LOW: [u8; 16] = [
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
    CARRY | OVERLONG_2,
    CARRY,
    CARRY,
    CARRY | TOO_LARGE,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
];

/// By the high nibble of the byte itself.
#[allow(dead_code)] // not on targets without a SIMD kernel
const THIS_HIGH: [u8; 16] = [
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
];

/// A 16-entry table repeated over `N` bytes, for lookups that work per
/// 128-bit lane (`vpshufb`, `tbl`).
#[allow(dead_code)] // not on targets without a SIMD kernel
const fn per_lane<const N: usize>(table: [u8; 16]) -> [u8; N] {
    let mut wide = [0u8; N];
    let mut i = 0;
    while i < N {
        wide[i] = table[i % 16];
        i += 1;
    }
    wide
}

/// The largest value each of `N` bytes may take without starting a code
/// point that needs more bytes than are left: 0xFF but for the last three.
#[allow(dead_code)] // not on targets without a SIMD kernel
const fn incomplete_max<const N: usize>() -> [u8; N] {
    let mut max = [0xFFu8; N];
    max[N - 3] = 0xF0 - 1;
    max[N - 2] = 0xE0 - 1;
    max[N - 1] = 0xC0 - 1;
    max
}

/// The block check, for an ISA module that defines `V`, `LANES`, `zero`,
/// `splat`, `and`, `or`, `xor`, `saturating_sub`, `load_const`,
/// `before::<SHIFT>` (the bytes `16 - SHIFT` places before each byte, the
/// first ones from the end of the previous vector), `lookup_prev_high`,
/// `lookup_prev_low` and `lookup_this_high`, each with the target features
/// given.
// Unused on targets without a SIMD kernel (thumbv7em, wasm...).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_macros)
)]
macro_rules! utf8_check {
    ($features:literal) => {
        /// The error bits of `input`, given the bytes one, two and three
        /// places before each of its bytes: non-zero where a byte cannot
        /// follow those before it.
        #[target_feature(enable = $features)]
        #[inline]
        fn check_with(input: V, prev1: V, prev2: V, prev3: V) -> V {
            let special = and(
                and(lookup_prev_high(prev1), lookup_prev_low(prev1)),
                lookup_this_high(input),
            );
            // A byte two after an E0..FF lead, or three after an F0..FF lead,
            // must be a continuation: exactly where TWO_CONTS is expected.
            let third = saturating_sub(prev2, splat(0xE0 - 0x80));
            let fourth = saturating_sub(prev3, splat(0xF0 - 0x80));
            let must_continue = and(or(third, fourth), splat(0x80));
            xor(must_continue, special)
        }

        /// The error bits of `input`, which follows `prev`.
        #[target_feature(enable = $features)]
        #[inline]
        fn check_after(input: V, prev: V) -> V {
            check_with(
                input,
                before::<15>(input, prev),
                before::<14>(input, prev),
                before::<13>(input, prev),
            )
        }

        /// Non-zero where one of the last three bytes of `input` starts a
        /// code point that needs more bytes than are left.
        #[target_feature(enable = $features)]
        #[inline]
        fn incomplete_at_end(input: V) -> V {
            const MAX: [u8; LANES] = super::incomplete_max::<LANES>();
            saturating_sub(input, load_const(&MAX))
        }
    };
}

/// The block loop (unmask, store, check, each optional) over the block
/// check, for an ISA module as [`utf8_check`] asks, with `load`, `store`,
/// `splat_key`, `ending_with`, `is_ascii`, `any` and `prefetch` too.
// Unused on targets without a SIMD kernel (thumbv7em, wasm...).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_macros)
)]
macro_rules! block_loop {
    ($features:literal) => {
        /// The vectors of one block.
        const PER_BLOCK: usize = BLOCK / LANES;

        /// The block at `src`, unmasked with `key` if `UNMASK`.
        ///
        /// # Safety
        ///
        /// `src` is readable for `BLOCK` bytes.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn load_block<const UNMASK: bool>(src: *const u8, key: V) -> [V; PER_BLOCK] {
            let mut block = [zero(); PER_BLOCK];
            for (i, v) in block.iter_mut().enumerate() {
                // SAFETY: `i * LANES + LANES <= BLOCK`, readable from `src`
                // by the caller's contract.
                let loaded = unsafe { load(src.add(i * LANES)) };
                *v = if UNMASK { xor(loaded, key) } else { loaded };
            }
            block
        }

        /// What the block loops carry from one block to the next.
        struct Scan {
            /// The error bits found so far.
            error: V,
            /// The last vector judged: the bytes before the next block.
            prev: V,
            /// Non-zero if the last block that was not all ASCII ended
            /// inside a code point.
            prev_incomplete: V,
        }

        impl Scan {
            #[target_feature(enable = $features)]
            #[inline]
            fn new() -> Self {
                Self {
                    error: zero(),
                    prev: zero(),
                    prev_incomplete: zero(),
                }
            }

            /// A scan whose first block follows `before` (a code point's
            /// first bytes, at the end of the word): the block check judges
            /// that code point with the bytes that complete it, as if the
            /// stream had not been cut.
            #[target_feature(enable = $features)]
            #[inline]
            fn after(before: u32) -> Self {
                let prev = ending_with(before);
                Self {
                    error: zero(),
                    prev,
                    prev_incomplete: incomplete_at_end(prev),
                }
            }

            /// Judges the next block.
            #[target_feature(enable = $features)]
            #[inline]
            fn block(&mut self, block: &[V; PER_BLOCK]) {
                let mut high = block[0];
                for &v in &block[1..] {
                    high = or(high, v);
                }
                if is_ascii(high) {
                    self.ascii(block[PER_BLOCK - 1]);
                } else {
                    self.multibyte(block);
                }
            }

            /// Judges the next block, which is not all ASCII (or is known
            /// to hold little of it: the full check costs less then than
            /// asking).
            #[target_feature(enable = $features)]
            #[inline]
            fn multibyte(&mut self, block: &[V; PER_BLOCK]) {
                for &v in block {
                    self.error = or(self.error, check_after(v, self.prev));
                    self.prev = v;
                }
                self.prev_incomplete = incomplete_at_end(block[PER_BLOCK - 1]);
            }

            /// [`multibyte`](Self::multibyte) for the block at `at`, with the
            /// bytes one, two and three places before each vector loaded
            /// again from memory (unaligned) rather than shuffled out of
            /// this vector and the one before: on multi-byte text the loop
            /// is bound by the shuffle units, and loads take a lane-crossing
            /// permute and three byte shifts per vector off them.
            ///
            /// # Safety
            ///
            /// `at - 3` is readable for `BLOCK + 3` bytes, and `block` is
            /// the block at `at`.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn multibyte_at(&mut self, block: &[V; PER_BLOCK], at: *const u8) {
                for (i, &v) in block.iter().enumerate() {
                    // SAFETY: `at + i * LANES - 3 + 3 + LANES <= at + BLOCK`
                    // and it starts at or after `at - 3`: readable by the
                    // caller's contract.
                    let (prev1, prev2, prev3) = unsafe {
                        let from = at.add(i * LANES);
                        (load(from.sub(1)), load(from.sub(2)), load(from.sub(3)))
                    };
                    self.error = or(self.error, check_with(v, prev1, prev2, prev3));
                }
                self.prev = block[PER_BLOCK - 1];
                self.prev_incomplete = incomplete_at_end(self.prev);
            }

            /// The next blocks are all ASCII, `last` their last vector: only
            /// a code point cut by the block before them can be wrong.
            /// `prev_incomplete` is not cleared: OR-ing it again after more
            /// ASCII changes nothing, and the next block that is not ASCII
            /// replaces it (one instruction less per block).
            #[target_feature(enable = $features)]
            #[inline]
            fn ascii(&mut self, last: V) {
                self.error = or(self.error, self.prev_incomplete);
                self.prev = last;
            }

            /// Whether every block was valid, apart from a code point the
            /// last one may cut short (the caller's to complete).
            #[target_feature(enable = $features)]
            #[inline]
            fn is_valid(&self) -> bool {
                !any(self.error)
            }
        }

        /// Over `blocks` blocks of 64 bytes at `src`: unmasks each with
        /// `key` (as seen from `src[0]`) if `UNMASK`, stores it at `dst` if
        /// `STORE`, and says whether the bytes are valid UTF-8 apart from a
        /// code point that their end may cut short. They start on a
        /// code-point boundary.
        ///
        /// # Safety
        ///
        /// The CPU has the target features; `src` is readable for
        /// `blocks * 64` bytes; if `STORE`, `dst` is writable for as many and
        /// either is `src` or does not overlap it.
        #[target_feature(enable = $features)]
        unsafe fn run_blocks<const UNMASK: bool, const STORE: bool>(
            dst: *mut u8,
            src: *const u8,
            blocks: usize,
            key: [u8; 4],
        ) -> bool {
            if blocks == 0 {
                return true;
            }
            let key = splat_key(key);
            let mut scan = Scan::new();
            // SAFETY: `blocks >= 1`, so the first block is readable.
            let mut block = unsafe { load_block::<UNMASK>(src, key) };
            for n in 0..blocks {
                let at = n * BLOCK;
                // The next block is loaded before this one is stored, so that
                // no load waits behind a store that might be to its address.
                let next = if n + 1 < blocks {
                    // SAFETY: `at + 2 * BLOCK <= blocks * BLOCK`, readable.
                    unsafe { load_block::<UNMASK>(src.add(at + BLOCK), key) }
                } else {
                    block
                };
                // Prefetching is a hint: any address is allowed.
                prefetch(src.wrapping_add(at + super::PREFETCH));
                if STORE {
                    for (i, &v) in block.iter().enumerate() {
                        // SAFETY: `at + BLOCK <= blocks * BLOCK`, writable at
                        // `dst` by the caller's contract; the load of this
                        // block is done.
                        unsafe { store(dst.add(at + i * LANES), v) };
                    }
                }
                scan.block(&block);
                block = next;
            }
            scan.is_valid()
        }

        /// Whether `bytes` (whole blocks, starting on a code-point boundary)
        /// are valid UTF-8 apart from a code point their end may cut short:
        /// the one or two padded blocks of a short chunk.
        /// The loop of [`run_blocks`] without unmasking and storing, and so
        /// without loading a block ahead; and two blocks a step, tested for
        /// ASCII at once, where every instruction of a step shows: about
        /// seven per 64 ASCII bytes instead of fourteen. A pair that is not
        /// all ASCII is checked in full, without asking again block by
        /// block: asking cost more than it saved on text, and the registers
        /// it held made the compiler reload the tables (58 instructions per
        /// 64 bytes of non-ASCII text instead of 48).
        #[target_feature(enable = $features)]
        pub(super) fn check_blocks(bytes: &[u8]) -> bool {
            let mut scan = Scan::new();
            scan_blocks::<false>(&mut scan, bytes);
            scan.is_valid()
        }

        /// The loop of [`check_blocks`], from the state `scan` (inlined in
        /// each caller, so that the state stays in registers), prefetching
        /// [`PREFETCH_CHECK`](super::PREFETCH_CHECK) ahead if `PREFETCH`.
        ///
        /// If `PREFETCH` (a long chunk), the ASCII that starts it goes four
        /// blocks a step, tested at once (about five instructions per 64
        /// bytes instead of seven, and a 4 KiB chunk of ASCII in 16 steps
        /// instead of 32); from the first four blocks that are not all
        /// ASCII, the rest goes a pair a step as below. Going back to four
        /// blocks a step after a pair of ASCII made the compiler spill and
        /// reload the tables in the pair loop (17 % more instructions on
        /// multi-byte text).
        #[target_feature(enable = $features)]
        #[inline]
        fn scan_blocks<const PREFETCH: bool>(scan: &mut Scan, bytes: &[u8]) {
            debug_assert_eq!(bytes.len() % BLOCK, 0);
            let pairs = bytes.len() / (2 * BLOCK);
            let mut start = 0;
            if PREFETCH {
                while start + 2 <= pairs {
                    // SAFETY: `start + 2 <= pairs`: the four blocks lie in
                    // `bytes`.
                    let at = unsafe { bytes.as_ptr().add(start * 2 * BLOCK) };
                    for line in 0..4 {
                        // Prefetching is a hint: any address is allowed.
                        prefetch(at.wrapping_add(super::PREFETCH_CHECK + line * BLOCK));
                    }
                    // SAFETY: the four blocks are `4 * BLOCK` readable bytes.
                    let blocks = unsafe {
                        [
                            load_block::<false>(at, zero()),
                            load_block::<false>(at.add(BLOCK), zero()),
                            load_block::<false>(at.add(2 * BLOCK), zero()),
                            load_block::<false>(at.add(3 * BLOCK), zero()),
                        ]
                    };
                    let mut high = blocks[0][0];
                    for block in &blocks {
                        for &v in block {
                            high = or(high, v);
                        }
                    }
                    if !is_ascii(high) {
                        break;
                    }
                    scan.ascii(blocks[3][PER_BLOCK - 1]);
                    start += 2;
                }
            }
            // The first pair apart, so that the loop's pairs all read the
            // bytes before them from memory.
            if start == 0 && pairs > 0 {
                // SAFETY: `0 < pairs`.
                unsafe { scan_pair::<PREFETCH, true>(scan, bytes, 0) };
                start = 1;
            }
            for n in start..pairs {
                // SAFETY: `1 <= n < pairs`.
                unsafe { scan_pair::<PREFETCH, false>(scan, bytes, n) };
            }
            for block in bytes[pairs * 2 * BLOCK..].chunks_exact(BLOCK) {
                // SAFETY: `block` is `BLOCK` readable bytes.
                let block = unsafe { load_block::<false>(block.as_ptr(), zero()) };
                scan.block(&block);
            }
        }

        /// Pair `n` of the blocks of `bytes`, a step of [`scan_blocks`]:
        /// tested for ASCII at once; if not, checked in full, without asking
        /// again block by block. `FIRST` if `n == 0`: the bytes before it
        /// are the scan's `prev`, not in `bytes`.
        ///
        /// # Safety
        ///
        /// `n < bytes.len() / (2 * BLOCK)`, and `n == 0` if and only if
        /// `FIRST`.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn scan_pair<const PREFETCH: bool, const FIRST: bool>(
            scan: &mut Scan,
            bytes: &[u8],
            n: usize,
        ) {
            // From the start of `bytes`, so that the bytes before the pair
            // may be read too.
            // SAFETY: `n` is a pair of `bytes` (the caller's contract).
            let at = unsafe { bytes.as_ptr().add(n * 2 * BLOCK) };
            if PREFETCH {
                // Prefetching is a hint: any address is allowed.
                prefetch(at.wrapping_add(super::PREFETCH_CHECK));
                prefetch(at.wrapping_add(super::PREFETCH_CHECK + BLOCK));
            }
            // SAFETY: the pair is `2 * BLOCK` readable bytes.
            let (first, second) = unsafe {
                (
                    load_block::<false>(at, zero()),
                    load_block::<false>(at.add(BLOCK), zero()),
                )
            };
            let mut high = or(first[0], second[0]);
            for i in 1..PER_BLOCK {
                high = or(high, or(first[i], second[i]));
            }
            if is_ascii(high) {
                scan.ascii(second[PER_BLOCK - 1]);
            } else {
                if FIRST {
                    // The bytes before `bytes` are the scan's `prev`.
                    scan.multibyte(&first);
                } else {
                    // SAFETY: `n >= 1`: the pair before, in `bytes`, ends
                    // where this one starts.
                    unsafe { scan.multibyte_at(&first, at) };
                }
                // SAFETY: `first` is a block before `second` in `bytes`.
                unsafe { scan.multibyte_at(&second, at.add(BLOCK)) };
            }
        }

        /// Whether `bytes` (at least a block and a vector), after the first
        /// bytes of a code point in `before` (at its end, as
        /// `Utf8Validator::carried_word` puts them; 0 if none), are valid UTF-8 apart from a code point cut at their very
        /// end: the whole blocks, from a scan that starts after `before`
        /// (so the carried code point is judged with the bytes that
        /// complete it, and the loads start where the chunk does), then the
        /// last 64 bytes again as one more block, with the bytes before it
        /// read from memory, so that no rest is left to copy and pad.
        #[target_feature(enable = $features)]
        pub(super) fn check_to_end(bytes: &[u8], before: u32) -> bool {
            debug_assert!(bytes.len() >= BLOCK + LANES);
            let blocks = bytes.len() / BLOCK * BLOCK;
            let mut scan = Scan::after(before);
            scan_blocks::<true>(&mut scan, &bytes[..blocks]);
            let mut valid = scan.is_valid();
            if blocks < bytes.len() {
                let last = bytes.len() - BLOCK;
                // No ASCII shortcut: the blocks' loop left a code point cut
                // by their end for this one to judge. A scan of its own,
                // with the bytes before the block read from memory, so that
                // no rest is left to copy and pad.
                let mut end = Scan::new();
                // SAFETY: `LANES <= last` and `last + BLOCK == bytes.len()`:
                // the block and the three bytes before it are readable.
                unsafe {
                    let at = bytes.as_ptr().add(last);
                    end.multibyte_at(&load_block::<false>(at, zero()), at);
                }
                valid &= end.is_valid();
            }
            valid
        }

        /// `dst = src ^ key` over whole blocks, and whether they are valid
        /// as [`check_blocks`] says.
        ///
        /// # Safety
        ///
        /// `dst` is writable for `src.len()` bytes (a multiple of 64) and is
        /// `src` or does not overlap it.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn unmask_and_check(
            dst: *mut u8,
            src: *const u8,
            len: usize,
            key: [u8; 4],
        ) -> bool {
            debug_assert_eq!(len % BLOCK, 0);
            // SAFETY: the features are enabled here; the caller's contract.
            unsafe { run_blocks::<true, true>(dst, src, len / BLOCK, key) }
        }
    };
}

/// The masking loops, for an ISA module with `V`, `LANES`, `load`, `store`,
/// `xor`, `splat_key` and `prefetch`.
// Unused on targets without a SIMD kernel (thumbv7em, wasm...).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(unused_macros)
)]
macro_rules! mask_loops {
    ($features:literal) => {
        /// `buf ^= key`, repeating, a vector a step; `key` as seen from
        /// `buf[0]`.
        #[target_feature(enable = $features)]
        pub(super) fn mask_in_place(buf: &mut [u8], key: [u8; 4]) {
            let wide = splat_key(key);
            let mut vectors = buf.chunks_exact_mut(LANES);
            for v in &mut vectors {
                let at = v.as_mut_ptr();
                // SAFETY: `v` is `LANES` bytes, readable and writable;
                // unaligned load and store.
                unsafe { store(at, xor(load(at), wide)) };
            }
            // `LANES` is a multiple of 4: the rest starts at `key[0]`.
            super::portable::mask_in_place(vectors.into_remainder(), key);
        }

        /// `dst = src ^ key`, four vectors a step, so that the loads of a
        /// step go out together ahead of its stores.
        ///
        /// # Safety
        ///
        /// `dst` is writable for `src.len()` bytes (initialized or not) and
        /// does not overlap `src`.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn mask_copy(dst: *mut u8, src: &[u8], key: [u8; 4]) {
            const STEP: usize = 4 * LANES;
            let wide = splat_key(key);
            let steps = src.chunks_exact(STEP);
            let rest = steps.remainder();
            for (i, step) in steps.enumerate() {
                let from = step.as_ptr();
                // Prefetching is a hint: any address is allowed.
                let mut line = 0;
                while line < STEP {
                    prefetch(from.wrapping_add(super::PREFETCH + line));
                    line += 64;
                }
                // SAFETY: `step` is `STEP` readable bytes; `dst + STEP * i`
                // has `STEP` writable ones (`STEP * (i + 1) <= src.len()`);
                // unaligned loads and stores.
                unsafe {
                    let to = dst.add(STEP * i);
                    let a = xor(load(from), wide);
                    let b = xor(load(from.add(LANES)), wide);
                    let c = xor(load(from.add(2 * LANES)), wide);
                    let d = xor(load(from.add(3 * LANES)), wide);
                    store(to, a);
                    store(to.add(LANES), b);
                    store(to.add(2 * LANES), c);
                    store(to.add(3 * LANES), d);
                }
            }
            let done = src.len() - rest.len();
            // SAFETY: the last `rest.len()` bytes of `dst`; `done` is a
            // multiple of 4, so the key keeps its phase.
            unsafe { super::portable::mask_copy(dst.add(done), rest, key) };
        }
    };
}

#[cfg(target_arch = "aarch64")]
mod aarch64_neon;
#[cfg(target_arch = "x86_64")]
mod x86_64_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_64_avx512;

/// A set of kernels, one per instruction set.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kernel {
    /// Word loops and `simdutf8`/`core` for validation: any CPU.
    Portable = 1,
    /// x86-64 AVX2: a block in two 256-bit registers.
    Avx2 = 2,
    /// x86-64 AVX-512 F, BW and VBMI for the fused unmask-and-validate
    /// loop (a block in one register, `vpermb` lookups); AVX2 for the rest.
    Avx512 = 3,
    /// aarch64 NEON: a block in four 128-bit registers.
    Neon = 4,
}

impl Kernel {
    /// Every kernel, best first.
    pub const ALL: [Kernel; 4] = [Kernel::Avx512, Kernel::Avx2, Kernel::Neon, Kernel::Portable];

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            Kernel::Avx2 => has_avx2(),
            Kernel::Avx512 => has_avx2() && has_avx512(),
            // Miri cannot interpret the NEON intrinsics.
            Kernel::Neon => cfg!(all(
                target_arch = "aarch64",
                target_feature = "neon",
                not(miri)
            )),
        }
    }
}

/// Whether AVX2 may run: asked of the CPU with `std`, else as compiled.
fn has_avx2() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(target_arch = "x86_64", target_feature = "avx2"))
    }
}

/// Whether AVX-512 F (512-bit registers), BW (byte arithmetic on them) and
/// VBMI (`vpermb`) may run.
fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vbmi"
        ))
    }
}

/// The kernel in use, as a `Kernel` discriminant; 0 until the first call
/// asks the CPU.
static SELECTED: AtomicU8 = AtomicU8::new(0);

/// The kernel in use: the best this CPU runs, found on the first call and
/// cached (one relaxed load on every later call).
#[inline]
pub(crate) fn selected() -> Kernel {
    match SELECTED.load(Ordering::Relaxed) {
        1 => Kernel::Portable,
        2 => Kernel::Avx2,
        3 => Kernel::Avx512,
        4 => Kernel::Neon,
        _ => select_best(),
    }
}

#[cold]
fn select_best() -> Kernel {
    let best = Kernel::ALL
        .into_iter()
        .find(|k| k.is_available())
        .unwrap_or(Kernel::Portable);
    SELECTED.store(best as u8, Ordering::Relaxed);
    best
}

/// Makes `kernel` the one in use, if this CPU runs it; says whether it did.
pub(crate) fn select(kernel: Kernel) -> bool {
    if !kernel.is_available() {
        return false;
    }
    SELECTED.store(kernel as u8, Ordering::Relaxed);
    true
}

/// Whether `kernel` checks UTF-8 a block at a time (the short-chunk path
/// pads to a block for it); the portable one calls `simdutf8`/`core`.
#[inline]
pub(crate) fn has_block_check(kernel: Kernel) -> bool {
    kernel != Kernel::Portable
}

/// `buf ^= key`, repeating; `key` as seen from `buf[0]`.
pub(crate) fn mask_in_place(kernel: Kernel, buf: &mut [u8], key: [u8; 4]) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `selected`/`select` hand out only kernels the CPU runs,
        // and AVX-512 implies AVX2 here (`is_available`).
        Kernel::Avx2 | Kernel::Avx512 => unsafe { x86_64_avx2::mask_in_place(buf, key) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: only available where NEON is (`is_available`).
        Kernel::Neon => unsafe { aarch64_neon::mask_in_place(buf, key) },
        _ => portable::mask_in_place(buf, key),
    }
}

/// `dst = src ^ key`; `key` as seen from `src[0]`.
///
/// # Safety
///
/// `dst` is writable for `src.len()` bytes (initialized or not) and does not
/// overlap `src`; `kernel` is available.
pub(crate) unsafe fn mask_copy(kernel: Kernel, dst: *mut u8, src: &[u8], key: [u8; 4]) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the kernel runs here (the caller's contract; AVX-512
        // implies AVX2); `dst` as the caller gives it.
        Kernel::Avx2 | Kernel::Avx512 => unsafe { x86_64_avx2::mask_copy(dst, src, key) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the kernel runs here; `dst` as the caller gives it.
        Kernel::Neon => unsafe { aarch64_neon::mask_copy(dst, src, key) },
        // SAFETY: `dst` as the caller gives it.
        _ => unsafe { portable::mask_copy(dst, src, key) },
    }
}

/// Whether `bytes`, whole blocks that start on a code-point boundary, are
/// valid UTF-8 apart from a code point that their end may cut short.
pub(crate) fn check_blocks(kernel: Kernel, bytes: &[u8]) -> bool {
    debug_assert_eq!(bytes.len() % BLOCK, 0);
    match kernel {
        // On AVX-512 machines too: a validation-only loop gains nothing
        // from `vpermb` that the AVX2 one does not have.
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the kernel runs here (`selected`/`select` and the test
        // lists hand out only available ones; AVX-512 implies AVX2).
        Kernel::Avx2 | Kernel::Avx512 => unsafe { x86_64_avx2::check_blocks(bytes) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the kernel runs here.
        Kernel::Neon => unsafe { aarch64_neon::check_blocks(bytes) },
        _ => portable::is_valid_but_a_cut_end(bytes),
    }
}

/// Whether `bytes` (at least 96 bytes), after the first bytes of a code
/// point in `before` (`Utf8Validator::carried_word`), are valid UTF-8
/// apart from a code point cut at their very end. The portable kernel says
/// `false` (invalid, for the caller's exact path to judge) if `before` holds
/// any byte: it has no block loop to start after them.
pub(crate) fn check_to_end(kernel: Kernel, bytes: &[u8], before: u32) -> bool {
    debug_assert!(bytes.len() >= BLOCK + 32);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the kernel runs here (`selected`/`select` and the test
        // lists hand out only available ones; AVX-512 implies AVX2).
        Kernel::Avx2 | Kernel::Avx512 => unsafe { x86_64_avx2::check_to_end(bytes, before) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the kernel runs here.
        Kernel::Neon => unsafe { aarch64_neon::check_to_end(bytes, before) },
        _ => before == 0 && portable::is_valid_but_a_cut_end(bytes),
    }
}

/// `dst = src ^ key` over `src.len()` bytes, a multiple of [`BLOCK`], and
/// whether they are valid UTF-8 apart from a code point that their end may
/// cut short. They start on a code-point boundary.
///
/// # Safety
///
/// `dst` is writable for `src.len()` bytes (initialized or not) and does not
/// overlap `src`; `kernel` is available. On return all of them are
/// initialized.
pub(crate) unsafe fn unmask_and_check(
    kernel: Kernel,
    dst: *mut u8,
    src: &[u8],
    key: [u8; 4],
) -> bool {
    debug_assert_eq!(src.len() % BLOCK, 0);
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512 F, BW and VBMI run here (the caller's contract);
        // `dst` is writable for `src.len()` bytes and does not overlap it.
        Kernel::Avx512 => unsafe {
            x86_64_avx512::unmask_and_check::<false>(dst, src.as_ptr(), src.len(), key)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 runs here; `dst` as the caller gives it.
        Kernel::Avx2 => unsafe { x86_64_avx2::unmask_and_check(dst, src.as_ptr(), src.len(), key) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: NEON runs here; `dst` as the caller gives it.
        Kernel::Neon => unsafe {
            aarch64_neon::unmask_and_check(dst, src.as_ptr(), src.len(), key)
        },
        // SAFETY: `dst` as the caller gives it.
        _ => unsafe { portable::unmask_and_check(dst, src, key) },
    }
}

/// [`unmask_and_check`] in place: unmasks `buf` where it is. `buf.len()` is
/// a multiple of [`BLOCK`].
pub(crate) fn unmask_and_check_in_place(kernel: Kernel, buf: &mut [u8], key: [u8; 4]) -> bool {
    debug_assert_eq!(buf.len() % BLOCK, 0);
    // Unused on targets without a SIMD kernel, where only the portable
    // loop runs.
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(unused_variables)
    )]
    let (at, len) = (buf.as_mut_ptr(), buf.len());
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512 runs here (`selected`/`select` and the test lists
        // hand out only available kernels); the in-place flavour takes the
        // bytes before a block from registers, never from `buf` after it
        // was written; `buf` is ours alone for the call.
        Kernel::Avx512 => unsafe { x86_64_avx512::unmask_and_check::<true>(at, at, len, key) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 runs here; the loop allows `dst == src`.
        Kernel::Avx2 => unsafe { x86_64_avx2::unmask_and_check(at, at, len, key) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: NEON runs here; the loop allows `dst == src`.
        Kernel::Neon => unsafe { aarch64_neon::unmask_and_check(at, at, len, key) },
        _ => portable::unmask_and_check_in_place(buf, key),
    }
}

/// Runs `f` with each kernel this CPU runs selected in turn (for tests of
/// the entries that dispatch), then the best again. Tests that switch hold a
/// lock; the others may see any available kernel meanwhile, which is as
/// correct as the best.
#[cfg(test)]
pub(crate) fn with_each_kernel(mut f: impl FnMut(Kernel)) {
    extern crate std;
    static SWITCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = SWITCHING.lock().unwrap_or_else(|e| e.into_inner());
    for kernel in tests::kernels() {
        assert!(select(kernel));
        f(kernel);
    }
    select_best();
}

#[cfg(test)]
mod tests;
