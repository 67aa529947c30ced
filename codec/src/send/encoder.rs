//! The frame encoder: header plus payload into an output buffer, masked with
//! a fresh key when we are the client.

use bytes::{Bytes, BytesMut};

use crate::{
    config::Role,
    frame::{FrameHeader, OpCode},
    mask::apply_mask,
};

/// Where a client's masking keys come from (RFC 6455 §5.3: "a fresh masking
/// key MUST be picked for every frame", unpredictable to the application).
///
/// The default is the operating system's generator; tests and fuzzers pass a
/// deterministic one so that runs repeat exactly.
pub trait MaskSource: Send {
    /// The key for the next frame.
    fn next_key(&mut self) -> [u8; 4];
}

/// Keys from the operating system's random generator (`getrandom`).
///
/// Each key is four bytes the OS generator gave, used once. They are taken
/// 128 keys at a time into a pool of the calling thread, one system
/// call per refill rather than per frame (a `getrandom` call costs about
/// half a microsecond, 30 times what the rest of a small frame's send
/// does). A process that forks shares its thread's unused keys with the
/// child.
///
/// Should the generator fail, the key is the current time's nanoseconds
/// instead, never a panic: a predictable key, which weakens what masking
/// protects against (RFC 6455 §10.3), but the frame still goes out masked
/// as §5.3 requires; the next key asks the generator again.
#[derive(Copy, Clone, Debug, Default)]
pub struct OsRandomMask;

/// How many keys one call to the OS generator fetches for a thread.
const POOLED_KEYS: usize = 128;

/// A thread's keys from one call to the OS generator, handed out in turn.
struct KeyPool {
    bytes: [u8; 4 * POOLED_KEYS],
    /// Bytes handed out (or, at the length, none fetched yet).
    taken: usize,
}

impl KeyPool {
    const EMPTY: Self = Self {
        bytes: [0; 4 * POOLED_KEYS],
        taken: 4 * POOLED_KEYS,
    };

    fn next_key(&mut self) -> [u8; 4] {
        if self.taken == self.bytes.len() {
            if getrandom::getrandom(&mut self.bytes).is_err() {
                return time_derived_key();
            }
            self.taken = 0;
        }
        let mut key = [0; 4];
        key.copy_from_slice(&self.bytes[self.taken..self.taken + 4]);
        self.taken += 4;
        key
    }
}

std::thread_local! {
    static KEY_POOL: std::cell::RefCell<KeyPool> = const { std::cell::RefCell::new(KeyPool::EMPTY) };
}

/// The fallback when the OS generator fails: never a panic for a client
/// that must mask.
fn time_derived_key() -> [u8; 4] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos.to_le_bytes()
}

impl MaskSource for OsRandomMask {
    fn next_key(&mut self) -> [u8; 4] {
        // The pool has no destructor, so it is never torn down and `with`
        // cannot fail, even from another thread-local's destructor.
        KEY_POOL.with(|pool| pool.borrow_mut().next_key())
    }
}

impl<F: FnMut() -> [u8; 4] + Send> MaskSource for F {
    fn next_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// Writes frames for one end of a connection.
pub struct FrameEncoder {
    role: Role,
    masks: Box<dyn MaskSource>,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder")
            .field("role", &self.role)
            .finish()
    }
}

impl FrameEncoder {
    /// An encoder for `role`; a client's keys come from `masks`.
    pub fn new(role: Role, masks: Box<dyn MaskSource>) -> Self {
        Self { role, masks }
    }

    /// Appends one frame to `out`: the header with the minimal length
    /// encoding (RFC 6455 §5.2), then the payload, masked with a fresh key
    /// from the [`MaskSource`] for a client (§5.3). The caller keeps to the
    /// frame rules (control frames are final and at most 125 bytes, §5.5;
    /// continuation frames only inside a fragmented message, §5.4): they
    /// are not checked here, and a frame that breaks them is written as
    /// given (the peer fails the connection with 1002).
    pub fn encode(&mut self, opcode: OpCode, fin: bool, payload: &[u8], out: &mut BytesMut) {
        self.encode_with_rsv(opcode, 0, fin, payload, out);
    }

    /// As [`encode`](Self::encode), with the RSV bits `rsv` (RSV1 = 0b100)
    /// that a negotiated extension asked for.
    #[inline(always)]
    pub(crate) fn encode_with_rsv(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        fin: bool,
        payload: &[u8],
        out: &mut BytesMut,
    ) {
        let mask =
            self.encode_header_reserving(opcode, rsv, fin, payload.len(), out, payload.len());
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut out[start..], key, 0);
        }
    }

    /// Appends only the header of a frame carrying `payload`, and returns the
    /// payload as it must follow on the wire: the same bytes, shared, for a
    /// server; a masked copy for a client. Lets a large payload be written
    /// (vectored) after the header instead of copied into `out`.
    pub fn encode_split(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: Bytes,
        out: &mut BytesMut,
    ) -> Bytes {
        match self.encode_header(opcode, 0, fin, payload.len(), out) {
            None => payload,
            Some(key) => {
                let mut masked = BytesMut::from(&payload[..]);
                apply_mask(&mut masked, key, 0);
                masked.freeze()
            }
        }
    }

    /// Whether this end masks its frames (a client, RFC 6455 §5.3).
    pub(crate) const fn masks(&self) -> bool {
        matches!(self.role, Role::Client)
    }

    /// The header of a frame of `len` payload bytes, with a fresh masking
    /// key for a client.
    #[inline]
    pub(crate) fn header(&mut self, opcode: OpCode, rsv: u8, fin: bool, len: usize) -> FrameHeader {
        let mask = match self.role {
            Role::Client => Some(self.masks.next_key()),
            Role::Server => None,
        };
        FrameHeader {
            mask,
            rsv,
            ..FrameHeader::new(fin, opcode, len as u64)
        }
    }

    /// Appends the header for a payload of `len` bytes; returns the mask key
    /// the payload must be masked with, if any.
    pub(crate) fn encode_header(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        fin: bool,
        len: usize,
        out: &mut BytesMut,
    ) -> Option<[u8; 4]> {
        self.encode_header_reserving(opcode, rsv, fin, len, out, 0)
    }

    /// As [`encode_header`](Self::encode_header), with room for `then`
    /// more bytes reserved with the header's (the payload, when it is
    /// copied in after it).
    #[inline]
    fn encode_header_reserving(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        fin: bool,
        len: usize,
        out: &mut BytesMut,
        then: usize,
    ) -> Option<[u8; 4]> {
        let header = self.header(opcode, rsv, fin, len);
        header.encode_reserving(out, then);
        header.mask
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_pool_hands_out_each_fetched_key_once_then_refills() {
        let mut pool = KeyPool::EMPTY;
        let first = pool.next_key();
        assert_eq!(pool.taken, 4);
        assert_eq!(first, pool.bytes[..4]);
        for _ in 1..POOLED_KEYS {
            pool.next_key();
        }
        assert_eq!(pool.taken, pool.bytes.len());
        let before = pool.bytes;
        pool.next_key();
        assert_eq!(pool.taken, 4);
        assert_ne!(pool.bytes, before, "a refill fetches new bytes");
    }

    #[test]
    fn keys_stay_fresh_across_refills() {
        let mut masks = OsRandomMask;
        let keys: Vec<[u8; 4]> = (0..3 * POOLED_KEYS + 1).map(|_| masks.next_key()).collect();
        let distinct: HashSet<_> = keys.iter().collect();
        // 385 random 32-bit keys: one repeat has odds of about 2^-15, two
        // of about 2^-31.
        assert!(
            distinct.len() >= keys.len() - 1,
            "{} distinct",
            distinct.len()
        );
    }

    #[test]
    fn each_thread_draws_its_own_keys() {
        let mine: Vec<[u8; 4]> = (0..8).map(|_| OsRandomMask.next_key()).collect();
        let theirs: Vec<[u8; 4]> =
            std::thread::spawn(|| (0..8).map(|_| OsRandomMask.next_key()).collect())
                .join()
                .expect("thread");
        assert_ne!(mine, theirs);
    }
}
