//! Payload masking (RFC 6455 §5.3), `byte[i] ^= key[i % 4]` resumable at any
//! offset: implemented once, with its SIMD kernels, in `utf8stream::mask`;
//! re-exported here under the names the codec uses.

#[doc(hidden)]
pub use utf8stream::mask::apply_mask_bytewise;
pub(crate) use utf8stream::mask::rotate_key as rotated;
pub use utf8stream::mask::{apply_mask, unmask_into};
