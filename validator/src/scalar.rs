//! The byte rule of UTF-8 (RFC 3629 §4, which std's decoder also follows),
//! written once as the transitions of a small automaton and run a byte at a
//! time: for short chunks, where setting up the block check or core's
//! validator costs more than the bytes, and for the up-to-four bytes of a
//! code point cut by a chunk boundary.
//!
//! The automaton is shift-based: each state is a bit offset, and the row of
//! a byte holds, at each state's offset, the next state. A step is one table
//! load and one shift (`row >> state`, whose count x86 and aarch64 take
//! modulo 64, so no mask), about one cycle a byte on the dependency chain
//! instead of the branches of a decoder.

/// A state: the bit offset of its next-state field in a row.
pub(crate) type State = u64;

/// No code point can continue the bytes seen (stays so: every row holds 0
/// at offset 0).
pub(crate) const ERROR: State = 0;
/// On a code-point boundary.
pub(crate) const ACCEPT: State = 6;
/// One continuation byte (80..BF) to go.
const CONTINUE_1: State = 12;
/// Two continuation bytes to go.
const CONTINUE_2: State = 18;
/// Three continuation bytes to go.
const CONTINUE_3: State = 24;
/// After E0: A0..BF (not overlong), then one more.
const AFTER_E0: State = 30;
/// After ED: 80..9F (not a surrogate), then one more.
const AFTER_ED: State = 36;
/// After F0: 90..BF (not overlong), then two more.
const AFTER_F0: State = 42;
/// After F4: 80..8F (not past U+10FFFF), then two more.
const AFTER_F4: State = 48;

const STATES: [State; 9] = [
    ERROR, ACCEPT, CONTINUE_1, CONTINUE_2, CONTINUE_3, AFTER_E0, AFTER_ED, AFTER_F0, AFTER_F4,
];

/// The state after `byte` in `state`: RFC 3629 §4's table.
const fn next(state: State, byte: u8) -> State {
    match (state, byte) {
        (ACCEPT, 0x00..=0x7F) => ACCEPT,
        (ACCEPT, 0xC2..=0xDF) => CONTINUE_1,
        (ACCEPT, 0xE0) => AFTER_E0,
        (ACCEPT, 0xE1..=0xEC | 0xEE..=0xEF) => CONTINUE_2,
        (ACCEPT, 0xED) => AFTER_ED,
        (ACCEPT, 0xF0) => AFTER_F0,
        (ACCEPT, 0xF1..=0xF3) => CONTINUE_3,
        (ACCEPT, 0xF4) => AFTER_F4,
        (CONTINUE_1, 0x80..=0xBF) => ACCEPT,
        (CONTINUE_2 | AFTER_E0, 0xA0..=0xBF) => CONTINUE_1,
        (CONTINUE_2 | AFTER_ED, 0x80..=0x9F) => CONTINUE_1,
        (CONTINUE_3 | AFTER_F0, 0x90..=0xBF) => CONTINUE_2,
        (CONTINUE_3 | AFTER_F4, 0x80..=0x8F) => CONTINUE_2,
        _ => ERROR,
    }
}

/// The row of each byte: `next(state, byte)` at bit offset `state`.
static ROWS: [u64; 256] = {
    let mut rows = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut i = 0;
        while i < STATES.len() {
            rows[byte] |= next(STATES[i], byte as u8) << STATES[i];
            i += 1;
        }
        byte += 1;
    }
    rows
};

/// The state after `bytes`, starting from `state`.
#[inline]
pub(crate) fn run(mut state: State, bytes: &[u8]) -> State {
    for &byte in bytes {
        // The shift takes the low six bits of `state` (`wrapping_shr`), which
        // hold the state; the bits above are the rest of the row, ignored.
        state = ROWS[usize::from(byte)].wrapping_shr(state as u32);
    }
    state & 63
}

/// Checks the bytes of one code point, whole or cut short (its first byte
/// is not ASCII): returns `Some(n)` if byte `n` can never continue the `n`
/// bytes before it (`Some(1)` for a byte that cannot lead), `None` if every
/// byte so far is allowed. `n` is std's `error_len`: the length of the valid
/// prefix.
///
/// The carry is at most four bytes, so this is cheaper than a call into core.
#[inline]
pub(crate) fn invalid_at(code_point: &[u8]) -> Option<usize> {
    let mut state = ACCEPT;
    for (i, &byte) in code_point.iter().enumerate() {
        state = next_state(state, byte);
        if state == ERROR {
            return Some(i.max(1));
        }
    }
    None
}

/// One step of [`run`].
#[inline]
pub(crate) fn next_state(state: State, byte: u8) -> State {
    ROWS[usize::from(byte)].wrapping_shr(state as u32) & 63
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sequence of one or two bytes, and every longer one whose
    /// bytes but the last are the start of one code point (after a whole
    /// code point or an error nothing new can happen), against core: the
    /// automaton accepts exactly what core accepts, ends inside a code point
    /// exactly where core reports a cut end, and `invalid_at` gives core's
    /// `error_len`.
    #[test]
    fn automaton_agrees_with_core_on_every_short_sequence() {
        let check = |bytes: &[u8]| {
            let state = run(ACCEPT, bytes);
            match core::str::from_utf8(bytes) {
                Ok(_) => assert_eq!(state, ACCEPT, "{bytes:02X?}"),
                Err(e) if e.error_len().is_none() => {
                    assert!(state != ACCEPT && state != ERROR, "{bytes:02X?}")
                }
                Err(e) => {
                    assert_eq!(state, ERROR, "{bytes:02X?}");
                    if e.valid_up_to() == 0 && bytes[0] >= 0x80 {
                        assert_eq!(invalid_at(bytes), e.error_len(), "{bytes:02X?}");
                    }
                }
            }
            // Whether a longer sequence can say more.
            bytes[0] >= 0x80 && state != ACCEPT && state != ERROR
        };
        let bytes = || (0..=255u8).step_by(if cfg!(miri) { 37 } else { 1 });
        for a in bytes() {
            check(&[a]);
            for b in bytes() {
                if !check(&[a, b]) {
                    continue;
                }
                for c in bytes() {
                    if !check(&[a, b, c]) {
                        continue;
                    }
                    for d in bytes() {
                        check(&[a, b, c, d]);
                    }
                }
            }
        }
    }
}
