//! Shared inputs for the wsframe benchmarks: text corpora of every UTF-8 width,
//! the naive streaming validator the `utf8` group compares against, the
//! client streams of the `codec` group, and the masked frames and read loop
//! the decode benches share.
#![forbid(unsafe_code)]

pub mod client_stream;
pub mod interleaved;
pub mod mem_socket;
pub mod workloads;

/// Input kinds for the UTF-8 benches: name and a seed text repeated to size.
pub const CORPORA: [(&str, &str); 6] = [
    (
        "ascii",
        "The quick brown fox jumps over the lazy dog; WebSocket frames carry text and binary data. ",
    ),
    (
        "latin1",
        "Größe, Übermaß, déjà vu, façade, naïve señor, œuvre, Ærø, þorn, ñandú, crème brûlée à Zürich. ",
    ),
    (
        "cyrillic",
        "Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация южных губерний. ",
    ),
    (
        "cjk",
        "我能吞下玻璃而不伤身体。私はガラスを食べられます。それは私を傷つけません。나는 유리를 먹을 수 있어요。",
    ),
    ("emoji", "😀🎉🚀👍🏽🔥💡🧪🌍🦀✨🎈🍕🐙🧠🛰️🫠"),
    (
        "mixed",
        "Hello, мир! 你好，世界 😀 — naïve café; κόσμε ∀x∈ℝ: x²≥0 🦀 ",
    ),
];

/// Makes `utf8stream` use the kernel named by the `UTF8STREAM_KERNEL`
/// environment variable (`portable`, `avx2`, `avx512`, `neon`), for example
/// to measure the AVX2 kernel on an AVX-512 machine; without the variable,
/// the best this CPU runs. Called first by the benches that reach the
/// kernels.
///
/// # Panics
///
/// If the name is unknown or this CPU does not run that kernel.
pub fn select_kernel_from_env() {
    use utf8stream::__bench::{force_kernel, kernel, Kernel};
    if let Ok(name) = std::env::var("UTF8STREAM_KERNEL") {
        let wanted = match name.as_str() {
            "portable" => Kernel::Portable,
            "avx2" => Kernel::Avx2,
            "avx512" => Kernel::Avx512,
            "neon" => Kernel::Neon,
            other => panic!("UTF8STREAM_KERNEL={other}: portable, avx2, avx512 or neon"),
        };
        assert!(
            force_kernel(wanted),
            "this CPU does not run the {name} kernel"
        );
    }
    eprintln!("utf8stream kernel: {:?}", kernel());
}

/// `seed` repeated to about `len` bytes, cut on a code-point boundary.
pub fn text_of_len(seed: &str, len: usize) -> Vec<u8> {
    let mut text = seed.repeat(len / seed.len() + 1);
    let mut end = len.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.into_bytes()
}

/// The obvious streaming validator built on std: validate each chunk, and
/// carry an incomplete tail (at most 3 bytes) over to the next one.
#[derive(Default)]
pub struct StdStreamingValidator {
    carry: Vec<u8>,
}

impl StdStreamingValidator {
    /// Validates one chunk; `false` once the stream is invalid.
    pub fn feed(&mut self, mut chunk: &[u8]) -> bool {
        while !self.carry.is_empty() {
            let Some((&first, rest)) = chunk.split_first() else {
                return true;
            };
            self.carry.push(first);
            chunk = rest;
            match std::str::from_utf8(&self.carry) {
                Ok(_) => self.carry.clear(),
                Err(e) if e.error_len().is_none() => {}
                Err(_) => return false,
            }
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                self.carry.extend_from_slice(&chunk[e.valid_up_to()..]);
                true
            }
            Err(_) => false,
        }
    }

    /// End of stream: `true` if nothing is left over.
    pub fn finish(&self) -> bool {
        self.carry.is_empty()
    }
}
