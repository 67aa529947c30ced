//! Unmasking and validating in one pass, for WebSocket payloads.
//!
//! A client's payload arrives XORed with a repeating 4-byte key (RFC 6455
//! §5.3). A server must copy it out of its read buffer, unmask it and, for
//! text, validate it: three passes over every byte if each is done on its
//! own. Here each 64-byte block is loaded once, unmasked in registers, stored
//! to its destination and checked there and then.
//!
//! The check is the lookup-table method of Keiser and Lemire ("Validating
//! UTF-8 in less than one instruction per byte", 2021): three 16-entry tables,
//! indexed by the nibbles of each byte and of the byte before it, flag every
//! invalid pair; a saturating compare flags a missing or extra third and
//! fourth byte. Everything but a code point cut at the very end of the input
//! is judged; the caller completes that one with the next chunk.
//!
//! Three kernels, chosen at run time: AVX-512 (F, BW and VBMI: a block in one
//! register, `vpermb` lookups that need no masking of the index, and the
//! bytes before a block loaded again from the source instead of shuffled in;
//! 1.4x the AVX2 kernel on mixed text, the `unmask_utf8` bench), AVX2 (a
//! block in two registers), and a portable one that unmasks, then validates
//! with `simdutf8`.

/// Writes `src` XOR the repeating `key` (as seen from `src[0]`) to `dst`
/// and says whether those bytes are valid UTF-8 apart from a code point that
/// their end may cut short. They start on a code-point boundary.
///
/// `src.len()` is a multiple of [`BLOCK`].
///
/// # Safety
///
/// `dst` is valid for writes of `src.len()` bytes (initialized or not) and
/// does not overlap `src`. On return all of them are initialized.
#[allow(unsafe_code)]
pub(crate) unsafe fn unmask_and_check(dst: *mut u8, src: &[u8], key: [u8; 4]) -> bool {
    debug_assert_eq!(src.len() % BLOCK, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx512() {
            // SAFETY: AVX-512 F, BW and VBMI are available (checked just
            // above); the caller gives `dst` for `src.len()` bytes, whole
            // blocks, not overlapping `src`.
            return unsafe {
                x86::unmask_and_check_avx512::<false>(dst, src.as_ptr(), src.len() / BLOCK, key)
            };
        }
        if x86::has_avx2() {
            // SAFETY: AVX2 is available (checked just above); the caller
            // gives `dst` for `src.len()` bytes, a whole number of blocks.
            return unsafe {
                x86::unmask_and_check_avx2(dst, src.as_ptr(), src.len() / BLOCK, key)
            };
        }
    }
    // SAFETY: as this function's own contract.
    unsafe { unmask_and_check_portable(dst, src, key) }
}

/// [`unmask_and_check`] in place: unmasks the `len` bytes at `buf` where
/// they are and says whether they are valid UTF-8 apart from a code point
/// that their end may cut short.
///
/// `len` is a multiple of [`BLOCK`].
///
/// # Safety
///
/// `buf` is valid for reads and writes of `len` bytes, and nothing else
/// refers to them during the call.
#[allow(unsafe_code)]
pub(crate) unsafe fn unmask_and_check_in_place(buf: *mut u8, len: usize, key: [u8; 4]) -> bool {
    debug_assert_eq!(len % BLOCK, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx512() {
            // SAFETY: AVX-512 F, BW and VBMI are available; the in-place
            // flavour takes the bytes before a block from registers, never
            // from `buf` after it was written.
            return unsafe { x86::unmask_and_check_avx512::<true>(buf, buf, len / BLOCK, key) };
        }
        if x86::has_avx2() {
            // SAFETY: AVX2 is available; the AVX2 loop allows `dst == src`.
            return unsafe { x86::unmask_and_check_avx2(buf, buf, len / BLOCK, key) };
        }
    }
    // SAFETY: the caller gives `buf` for `len` bytes, to this call alone.
    unmask_and_check_in_place_portable(unsafe { core::slice::from_raw_parts_mut(buf, len) }, key)
}

/// Without SIMD, in place: unmask, then judge as the portable copying path.
fn unmask_and_check_in_place_portable(buf: &mut [u8], key: [u8; 4]) -> bool {
    unmask_in_place(buf, key);
    is_valid_but_a_cut_end(buf)
}

/// `buf ^= key`, repeating, eight bytes a step; `key` as seen from `buf[0]`.
pub(crate) fn unmask_in_place(buf: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let value = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ wide;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    // Whole words keep the key's phase: the tail starts at key[0].
    for (n, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[n % 4];
    }
}

/// The bytes each step of the SIMD loop handles.
pub(crate) const BLOCK: usize = 64;

/// Without SIMD: unmask, then let the regular validator judge the bytes up to
/// the last code-point boundary, and the cut code point by its prefix.
///
/// # Safety
///
/// As [`unmask_and_check`].
#[allow(unsafe_code)]
unsafe fn unmask_and_check_portable(dst: *mut u8, src: &[u8], key: [u8; 4]) -> bool {
    // SAFETY: the caller gives `dst` for `src.len()` writes; once written
    // they are initialized and only read through the new slice.
    let dst = unsafe {
        unmask_copy(dst, src, key);
        core::slice::from_raw_parts(dst, src.len())
    };
    is_valid_but_a_cut_end(dst)
}

/// The portable kernels' verdict on unmasked bytes: the regular validator
/// judges them up to the last code-point boundary, and the cut code point
/// by its prefix.
fn is_valid_but_a_cut_end(bytes: &[u8]) -> bool {
    let tail = crate::validator::unfinished_tail_len(bytes);
    let (whole, cut) = bytes.split_at(bytes.len() - tail);
    crate::is_valid_bulk(whole) && (cut.is_empty() || crate::validator::invalid_at(cut).is_none())
}

/// `dst = src ^ key`, eight bytes a step; `key` as seen from `src[0]`.
///
/// # Safety
///
/// `dst` is valid for writes of `src.len()` bytes (initialized or not) and
/// does not overlap `src`.
#[allow(unsafe_code)]
pub(crate) unsafe fn unmask_copy(dst: *mut u8, src: &[u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = src.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        let value = u64::from_ne_bytes(word.try_into().expect("8 bytes")) ^ wide;
        // SAFETY: `8 * i + 8 <= src.len()`, all writable at `dst`.
        unsafe { dst.add(8 * i).cast::<u64>().write_unaligned(value) };
    }
    // Whole words keep the key's phase: the tail starts at key[0].
    let done = src.len() - words.remainder().len();
    for (n, byte) in words.remainder().iter().enumerate() {
        // SAFETY: `done + n < src.len()`, writable at `dst`.
        unsafe { dst.add(done + n).write(byte ^ key[n % 4]) };
    }
}

/// The key as seen from byte `offset` of a payload whose byte 0 sees `key`.
pub(crate) const fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset % 4;
    [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]]
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use core::arch::x86_64::*;

    /// Whether the AVX2 path may run.
    #[inline]
    pub(super) fn has_avx2() -> bool {
        #[cfg(feature = "std")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(feature = "std"))]
        {
            cfg!(target_feature = "avx2")
        }
    }

    /// Whether the AVX-512 path may run (F for the 512-bit registers, BW for
    /// byte arithmetic on them, VBMI for `vpermb`).
    #[inline]
    pub(super) fn has_avx512() -> bool {
        #[cfg(feature = "std")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vbmi")
        }
        #[cfg(not(feature = "std"))]
        {
            cfg!(all(
                target_feature = "avx512f",
                target_feature = "avx512bw",
                target_feature = "avx512vbmi"
            ))
        }
    }

    // The error classes of the method, one bit each; a pair of bytes is
    // invalid when the three lookups share a bit.
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

    /// A 16-entry table in both 128-bit lanes, for `vpshufb`.
    #[target_feature(enable = "avx2")]
    fn table(t: [u8; 16]) -> __m256i {
        let mut both = [0u8; 32];
        both[..16].copy_from_slice(&t);
        both[16..].copy_from_slice(&t);
        // SAFETY: `both` is 32 readable bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(both.as_ptr().cast()) }
    }

    /// The bytes `N` places before each byte of `input`, the first ones taken
    /// from the end of `prev` (`vpalignr` works per 128-bit lane, so the
    /// lane-crossing half comes from `vperm2i128` first).
    #[target_feature(enable = "avx2")]
    fn before<const SHIFT: i32>(input: __m256i, prev: __m256i) -> __m256i {
        let straddle = _mm256_permute2x128_si256::<0x21>(prev, input);
        _mm256_alignr_epi8::<SHIFT>(input, straddle)
    }

    struct Tables {
        prev_high: __m256i,
        prev_low: __m256i,
        this_high: __m256i,
        nibble: __m256i,
    }

    /// The error bits of the 32 bytes of `input`, given the 32 before them.
    #[target_feature(enable = "avx2")]
    fn check(t: &Tables, input: __m256i, prev: __m256i) -> __m256i {
        let prev1 = before::<15>(input, prev);
        let high = |v: __m256i| _mm256_and_si256(_mm256_srli_epi16::<4>(v), t.nibble);
        let special = _mm256_and_si256(
            _mm256_and_si256(
                _mm256_shuffle_epi8(t.prev_high, high(prev1)),
                _mm256_shuffle_epi8(t.prev_low, _mm256_and_si256(prev1, t.nibble)),
            ),
            _mm256_shuffle_epi8(t.this_high, high(input)),
        );
        // A byte two after an E0..FF lead, or three after an F0..FF lead,
        // must be a continuation: exactly where TWO_CONTS is expected.
        let third = _mm256_subs_epu8(
            before::<14>(input, prev),
            _mm256_set1_epi8((0xE0u8 - 0x80) as i8),
        );
        let fourth = _mm256_subs_epu8(
            before::<13>(input, prev),
            _mm256_set1_epi8((0xF0u8 - 0x80) as i8),
        );
        let must_continue = _mm256_and_si256(
            _mm256_or_si256(third, fourth),
            _mm256_set1_epi8(0x80u8 as i8),
        );
        _mm256_xor_si256(must_continue, special)
    }

    /// Non-zero where one of the last three bytes of `input` starts a code
    /// point that needs more bytes than are left.
    #[target_feature(enable = "avx2")]
    fn incomplete_at_end(input: __m256i) -> __m256i {
        const MAX: [u8; 32] = {
            let mut max = [0xFFu8; 32];
            max[29] = 0xF0 - 1;
            max[30] = 0xE0 - 1;
            max[31] = 0xC0 - 1;
            max
        };
        // SAFETY: `MAX` is 32 readable bytes; the load is unaligned.
        let max = unsafe { _mm256_loadu_si256(MAX.as_ptr().cast()) };
        _mm256_subs_epu8(input, max)
    }

    /// How far ahead of the loads to prefetch. Without it the loop runs at
    /// about half speed on a source that is not in cache (the `unmask_utf8`
    /// bench on 16 MiB: 7.5 GiB/s without, 13.4-14.4 at 4 KiB ahead, less at 2
    /// or 8 KiB).
    const PREFETCH: usize = 4096;

    /// The AVX2 body of [`super::unmask_and_check`]: `blocks` blocks of 64
    /// bytes.
    ///
    /// # Safety
    ///
    /// AVX2 must be available; `src` must be readable and `dst` writable for
    /// `blocks * 64` bytes (they may be the same buffer).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn unmask_and_check_avx2(
        dst: *mut u8,
        src: *const u8,
        blocks: usize,
        key: [u8; 4],
    ) -> bool {
        let key = _mm256_set1_epi32(i32::from_ne_bytes(key));
        let t = Tables {
            prev_high: table(PREV_HIGH),
            prev_low: table(PREV_LOW),
            this_high: table(THIS_HIGH),
            nibble: _mm256_set1_epi8(0x0F),
        };
        let mut error = _mm256_setzero_si256();
        let mut prev = _mm256_setzero_si256();
        let mut prev_incomplete = _mm256_setzero_si256();
        let load = |at: usize| {
            // SAFETY: only called with `at + 64 <= blocks * 64`, which the
            // caller guarantees readable from `src`; unaligned loads.
            unsafe {
                (
                    _mm256_xor_si256(_mm256_loadu_si256(src.add(at).cast()), key),
                    _mm256_xor_si256(_mm256_loadu_si256(src.add(at + 32).cast()), key),
                )
            }
        };
        if blocks == 0 {
            return true;
        }
        let (mut low, mut high) = load(0);
        for block in 0..blocks {
            let at = block * super::BLOCK;
            // The next block is loaded before this one is stored, so that no
            // load waits behind a store that might be to the same address.
            let next = if block + 1 < blocks {
                load(at + super::BLOCK)
            } else {
                (low, high)
            };
            // Prefetching is a hint: any address is allowed.
            _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(at + PREFETCH).cast());
            // SAFETY: `at + 64 <= blocks * 64`, which the caller guarantees
            // writable at `dst`; unaligned stores.
            unsafe {
                _mm256_storeu_si256(dst.add(at).cast(), low);
                _mm256_storeu_si256(dst.add(at + 32).cast(), high);
            }
            if _mm256_movemask_epi8(_mm256_or_si256(low, high)) == 0 {
                // All ASCII: only a code point cut by the previous block can
                // be wrong.
                error = _mm256_or_si256(error, prev_incomplete);
                prev_incomplete = _mm256_setzero_si256();
            } else {
                error = _mm256_or_si256(error, check(&t, low, prev));
                error = _mm256_or_si256(error, check(&t, high, low));
                prev_incomplete = incomplete_at_end(high);
            }
            prev = high;
            (low, high) = next;
        }
        // A code point cut at the very end is the caller's to complete.
        _mm256_testz_si256(error, error) == 1
    }

    /// A 16-entry table spread over the 64 entries of `vpermb`, which looks
    /// up by the low six bits of each index byte: by the low nibble
    /// (`by_high == false`), or by the high nibble of a byte shifted right by
    /// two (`by_high`). Built at compile time: the loop runs per call on
    /// short payloads.
    const fn spread(t: [u8; 16], by_high: bool) -> [u8; 64] {
        let mut wide = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            wide[i] = if by_high { t[i >> 2] } else { t[i & 15] };
            i += 1;
        }
        wide
    }

    const PREV_HIGH_64: [u8; 64] = spread(PREV_HIGH, true);
    const PREV_LOW_64: [u8; 64] = spread(PREV_LOW, false);
    const THIS_HIGH_64: [u8; 64] = spread(THIS_HIGH, true);

    /// The 64 bytes of `table` in a register.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn table512(table: &[u8; 64]) -> __m512i {
        // SAFETY: `table` is 64 readable bytes; the load is unaligned.
        unsafe { _mm512_loadu_si512(table.as_ptr().cast()) }
    }

    /// [`before`] on 64 bytes: `valignd` brings the last 16 bytes of `prev`
    /// in front of `input`, then `vpalignr` shifts each lane.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn before512<const SHIFT: i32>(input: __m512i, prev: __m512i) -> __m512i {
        let straddle = _mm512_alignr_epi32::<12>(input, prev);
        _mm512_alignr_epi8::<SHIFT>(input, straddle)
    }

    struct Tables512 {
        prev_high: __m512i,
        prev_low: __m512i,
        this_high: __m512i,
    }

    /// [`check`] on 64 bytes, with the bytes before them in place.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn check512(t: &Tables512, input: __m512i, prev: __m512i) -> __m512i {
        check512_with(
            t,
            input,
            before512::<15>(input, prev),
            before512::<14>(input, prev),
            before512::<13>(input, prev),
        )
    }

    /// [`check`] on 64 bytes, given the bytes one, two and three before each.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn check512_with(
        t: &Tables512,
        input: __m512i,
        prev1: __m512i,
        prev2: __m512i,
        prev3: __m512i,
    ) -> __m512i {
        // `vpermb` ignores the two top bits of an index: a 16-bit shift by
        // two brings the high nibble down, whatever comes in from above.
        let high = |v: __m512i| _mm512_srli_epi16::<2>(v);
        let special = _mm512_and_si512(
            _mm512_and_si512(
                _mm512_permutexvar_epi8(high(prev1), t.prev_high),
                _mm512_permutexvar_epi8(prev1, t.prev_low),
            ),
            _mm512_permutexvar_epi8(high(input), t.this_high),
        );
        let third = _mm512_subs_epu8(prev2, _mm512_set1_epi8((0xE0u8 - 0x80) as i8));
        let fourth = _mm512_subs_epu8(prev3, _mm512_set1_epi8((0xF0u8 - 0x80) as i8));
        let must_continue = _mm512_and_si512(
            _mm512_or_si512(third, fourth),
            _mm512_set1_epi8(0x80u8 as i8),
        );
        _mm512_xor_si512(must_continue, special)
    }

    /// [`incomplete_at_end`] on 64 bytes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn incomplete_at_end512(input: __m512i) -> __m512i {
        const MAX: [u8; 64] = {
            let mut max = [0xFFu8; 64];
            max[61] = 0xF0 - 1;
            max[62] = 0xE0 - 1;
            max[63] = 0xC0 - 1;
            max
        };
        // SAFETY: `MAX` is 64 readable bytes; the load is unaligned.
        let max = unsafe { _mm512_loadu_si512(MAX.as_ptr().cast()) };
        _mm512_subs_epu8(input, max)
    }

    /// The AVX-512 body of [`super::unmask_and_check`]: the AVX2 loop with a
    /// block in one register. `IN_PLACE` takes the bytes before each block
    /// from the previous block's register (`dst == src` allowed) instead of
    /// loading them again from `src` (faster, but `src` must stay as it was).
    ///
    /// # Safety
    ///
    /// AVX-512 F, BW and VBMI must be available; `src` must be readable and
    /// `dst` writable for `blocks * 64` bytes; unless `IN_PLACE`, they must
    /// not overlap.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn unmask_and_check_avx512<const IN_PLACE: bool>(
        dst: *mut u8,
        src: *const u8,
        blocks: usize,
        key: [u8; 4],
    ) -> bool {
        let key_bytes = key;
        let key = _mm512_set1_epi32(i32::from_ne_bytes(key));
        let t = Tables512 {
            prev_high: table512(&PREV_HIGH_64),
            prev_low: table512(&PREV_LOW_64),
            this_high: table512(&THIS_HIGH_64),
        };
        let mut error = _mm512_setzero_si512();
        let mut prev_incomplete = _mm512_setzero_si512();
        // SAFETY: only called with `at + 64 <= blocks * 64`, which the caller
        // guarantees readable from `src`; unaligned loads.
        let load =
            |at: usize| unsafe { _mm512_xor_si512(_mm512_loadu_si512(src.add(at).cast()), key) };
        let len = blocks * super::BLOCK;
        if len == 0 {
            return true;
        }
        // Past the first block, the bytes before a block are read again from
        // `src` (unaligned loads, unmasked with the key turned to their
        // offset) instead of shifted in from the previous block: a load is
        // cheaper than the lane-crossing shuffles.
        let key1 = _mm512_set1_epi32(i32::from_ne_bytes(super::rotate_key(key_bytes, 3)));
        let key2 = _mm512_set1_epi32(i32::from_ne_bytes(super::rotate_key(key_bytes, 2)));
        let key3 = _mm512_set1_epi32(i32::from_ne_bytes(super::rotate_key(key_bytes, 1)));
        // SAFETY: only called with `64 <= at` and `at + 64 <= len`: the
        // bytes from `at - 3` are readable from `src` (and, not `IN_PLACE`,
        // not yet written over).
        let check_at = |v: __m512i, at: usize, prev: __m512i| unsafe {
            if IN_PLACE {
                return check512(&t, v, prev);
            }
            check512_with(
                &t,
                v,
                _mm512_xor_si512(_mm512_loadu_si512(src.add(at - 1).cast()), key1),
                _mm512_xor_si512(_mm512_loadu_si512(src.add(at - 2).cast()), key2),
                _mm512_xor_si512(_mm512_loadu_si512(src.add(at - 3).cast()), key3),
            )
        };
        let first = load(0);
        // SAFETY: `64 <= len`, writable at `dst`.
        unsafe { _mm512_storeu_si512(dst.cast(), first) };
        if _mm512_movepi8_mask(first) != 0 {
            error = check512(&t, first, _mm512_setzero_si512());
            prev_incomplete = incomplete_at_end512(first);
        }
        let mut prev = first;
        let mut at = super::BLOCK;
        // Two blocks a step, tested for ASCII as one: text that is not all
        // ASCII rarely has 128 bytes of it, so the branch stays predictable.
        while at + 2 * super::BLOCK <= len {
            let (a, b) = (load(at), load(at + super::BLOCK));
            // Prefetching is a hint: any address is allowed.
            _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(at + PREFETCH).cast());
            _mm_prefetch::<_MM_HINT_T0>(src.wrapping_add(at + super::BLOCK + PREFETCH).cast());
            if _mm512_movepi8_mask(_mm512_or_si512(a, b)) == 0 {
                error = _mm512_or_si512(error, prev_incomplete);
                prev_incomplete = _mm512_setzero_si512();
            } else {
                error = _mm512_or_si512(error, check_at(a, at, prev));
                error = _mm512_or_si512(error, check_at(b, at + super::BLOCK, a));
                prev_incomplete = incomplete_at_end512(b);
            }
            // SAFETY: `at + 128 <= len`, which the caller guarantees writable
            // at `dst`; unaligned stores.
            unsafe {
                _mm512_storeu_si512(dst.add(at).cast(), a);
                _mm512_storeu_si512(dst.add(at + super::BLOCK).cast(), b);
            }
            prev = b;
            at += 2 * super::BLOCK;
        }
        if at < len {
            // One block left: the full check also judges a code point that
            // the block before cut.
            let a = load(at);
            error = _mm512_or_si512(error, check_at(a, at, prev));
            // SAFETY: `at + 64 == len`, writable at `dst`.
            unsafe { _mm512_storeu_si512(dst.add(at).cast(), a) };
        }
        // A code point cut at the very end is the caller's to complete.
        _mm512_test_epi8_mask(error, error) == 0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;

    use super::*;

    /// Checks one answer of `unmask_and_check` against std. `true` must mean
    /// that the bytes before a cut code point at the end are valid; `false`
    /// that the bytes are neither valid nor a valid prefix. A cut code point
    /// that is already wrong (`C0` at the end) may get either answer: the
    /// caller judges it with the next chunk.
    fn assert_agrees(answer: bool, plain: &[u8], what: &str) {
        let cut = crate::validator::unfinished_tail_len(plain);
        if answer {
            let whole = &plain[..plain.len() - cut];
            assert!(std::str::from_utf8(whole).is_ok(), "accepted {what}");
        } else {
            let prefix_ok = match std::str::from_utf8(plain) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none(),
            };
            assert!(!prefix_ok, "rejected {what}");
        }
    }

    /// Places `seq` at `at` in ASCII filler of `len` bytes, masks it, and
    /// checks the SIMD and portable answers (and the unmasked bytes) against
    /// std.
    #[allow(unsafe_code)]
    fn check_at(seq: &[u8], at: usize, len: usize) {
        let key = [0x9C, 0x01, 0xF7, 0x42];
        let mut plain = vec![b'a'; len];
        plain[at..at + seq.len()].copy_from_slice(seq);
        let masked: std::vec::Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        let what = std::format!("{seq:02x?} at {at} of {len}");
        for (name, kernel) in kernels() {
            let mut out = vec![0; len];
            // SAFETY: `out` has room for `masked.len()` bytes and is its own
            // buffer; `kernels` lists only what this CPU runs.
            let answer = unsafe { kernel(out.as_mut_ptr(), &masked, key) };
            assert_agrees(answer, &plain, &std::format!("{what} ({name})"));
            assert_eq!(out, plain, "{what} ({name})");
        }
    }

    type Kernel = unsafe fn(*mut u8, &[u8], [u8; 4]) -> bool;

    /// Every kernel this CPU can run: the dispatcher's choice is only one of
    /// them, and each must agree with std.
    #[allow(unsafe_code)]
    fn kernels() -> std::vec::Vec<(&'static str, Kernel)> {
        let mut all: std::vec::Vec<(&'static str, Kernel)> = std::vec::Vec::new();
        if !cfg!(all(miri, target_feature = "avx2")) {
            // simdutf8 0.1.5's AVX2 loop offsets its prefetch pointer past
            // the end of short inputs with `add`, which Miri reports (fixed
            // upstream in rusticstuff/simdutf8#120, not yet released); the
            // portable path calls it, so there Miri checks the SIMD paths.
            all.push(("portable", unmask_and_check_portable));
            all.push(("portable in place", |dst, src, key| {
                // SAFETY: the caller gives `dst` for `src.len()` bytes.
                let buf = unsafe {
                    dst.copy_from_nonoverlapping(src.as_ptr(), src.len());
                    core::slice::from_raw_parts_mut(dst, src.len())
                };
                unmask_and_check_in_place_portable(buf, key)
            }));
        }
        #[cfg(target_arch = "x86_64")]
        {
            if x86::has_avx2() {
                // SAFETY: AVX2 was detected; the caller's contract is the
                // kernel's.
                all.push(("avx2", |dst, src, key| unsafe {
                    x86::unmask_and_check_avx2(dst, src.as_ptr(), src.len() / BLOCK, key)
                }));
                // SAFETY: as above; `dst` is written with the masked bytes
                // first, then unmasked where they are.
                all.push(("avx2 in place", |dst, src, key| unsafe {
                    dst.copy_from_nonoverlapping(src.as_ptr(), src.len());
                    x86::unmask_and_check_avx2(dst, dst, src.len() / BLOCK, key)
                }));
            }
            if x86::has_avx512() {
                // SAFETY: AVX-512 was detected; the caller's contract is the
                // kernel's.
                all.push(("avx512", |dst, src, key| unsafe {
                    x86::unmask_and_check_avx512::<false>(dst, src.as_ptr(), src.len() / BLOCK, key)
                }));
                // SAFETY: as above; `dst` is written with the masked bytes
                // first, then unmasked where they are.
                all.push(("avx512 in place", |dst, src, key| unsafe {
                    dst.copy_from_nonoverlapping(src.as_ptr(), src.len());
                    x86::unmask_and_check_avx512::<true>(dst, dst, src.len() / BLOCK, key)
                }));
            }
        }
        all
    }

    /// Lengths that end each kind of step: the first block alone, then
    /// after a pair of blocks, then with one block after a pair.
    const LENGTHS: [usize; 3] = [128, 192, 256];

    /// Every pair of bytes, across both 32-byte halves and the 64-byte
    /// block boundary, followed by ASCII (which takes the ASCII shortcut) or
    /// by nothing (a cut code point at the end is allowed).
    #[test]
    fn every_byte_pair_at_every_boundary() {
        // Miri interprets slowly: there, one byte of each class.
        let all: std::vec::Vec<u8> = if cfg!(miri) {
            std::vec![0x41, 0x80, 0xA0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xFF]
        } else {
            (0..=255).collect()
        };
        let places: &[usize] = if cfg!(miri) {
            &[31, 63, 126, 190]
        } else {
            &[0, 30, 31, 32, 62, 63, 64, 126, 127, 190, 254]
        };
        for &at in places {
            for &a in &all {
                for &b in &all {
                    // Followed by ASCII, and cut by the end where that is a
                    // step's end.
                    for len in LENGTHS {
                        if at + 2 == len || (at + 2 < len && len == 256) {
                            check_at(&[a, b], at, len);
                        }
                    }
                }
            }
        }
    }

    /// Leads with a second byte from each class and any third byte, so that
    /// missing and extra third and fourth bytes are seen at the boundaries.
    #[test]
    fn three_byte_prefixes_at_the_boundaries() {
        let seconds = [0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC2];
        if cfg!(miri) {
            // The pairs above reach every line of the unsafe code already.
            return;
        }
        for at in [29, 30, 31, 61, 62, 63, 125, 126, 189, 190] {
            // The smallest length that holds the bytes: some are cut by
            // the end, the others followed by ASCII.
            let fit = |n| {
                LENGTHS
                    .into_iter()
                    .find(|&len| at + n <= len)
                    .expect("fits")
            };
            for a in 0xC0..=0xFFu8 {
                for b in seconds {
                    for c in 0..=255u8 {
                        check_at(&[a, b, c], at, fit(3));
                        check_at(&[a, b, c, 0x80], at, fit(4));
                    }
                }
            }
        }
    }
}
