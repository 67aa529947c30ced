//! What went wrong when a text stopped being valid UTF-8: the offending
//! bytes, the bytes just before them, where they were, and what the sender
//! most likely did (sent Latin-1, UTF-16, binary data, a split character, an
//! encoded surrogate, an overlong form).
//!
//! RFC 6455 §8.1 asks for close code 1007 when a text message is not UTF-8;
//! this module says *why* it was not, for the person reading the log. The
//! diagnosis runs only on the error path: capturing the bytes costs the valid
//! path nothing.

use std::fmt;

/// How many bytes before the offending ones are kept as context.
pub const CONTEXT_LEN: usize = 12;

/// Where a text stopped being valid UTF-8 and the bytes around that point.
///
/// A small fixed-size value (so [`ProtocolError`](crate::ProtocolError)
/// stays `Copy`): up to 4 bytes starting at the first offending byte, and up
/// to [`CONTEXT_LEN`] bytes of the same text before them, as far as the
/// receiver still held them (in streaming mode, bytes already handed out are
/// gone).
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct InvalidUtf8 {
    offset: u64,
    frame: u32,
    /// std's `error_len`; 0 stands for `None` (the text ended inside a code point).
    error_len: u8,
    at: [u8; 4],
    at_len: u8,
    before: [u8; CONTEXT_LEN],
    before_len: u8,
}

impl InvalidUtf8 {
    /// Captures the evidence of `error` from `window`, the bytes of the text
    /// that start at offset `window_start` of the text. `frame` is the index
    /// (from 0) of the frame of the message that held the first offending
    /// byte. Bytes outside `window` are simply not recorded.
    pub(crate) fn capture(
        window: &[u8],
        window_start: u64,
        error: &utf8stream::Utf8Error,
        frame: u32,
    ) -> Self {
        let offset = error.valid_up_to();
        let mut evidence = Self {
            offset,
            frame,
            error_len: error.error_len().map_or(0, |len| len as u8),
            at: [0; 4],
            at_len: 0,
            before: [0; CONTEXT_LEN],
            before_len: 0,
        };
        // The error's position inside the window, clamped to it.
        let split = offset.saturating_sub(window_start).min(window.len() as u64) as usize;
        if offset >= window_start {
            let at = &window[split..window.len().min(split + 4)];
            evidence.at[..at.len()].copy_from_slice(at);
            evidence.at_len = at.len() as u8;
        }
        let before = &window[split.saturating_sub(CONTEXT_LEN)..split];
        evidence.before[..before.len()].copy_from_slice(before);
        evidence.before_len = before.len() as u8;
        evidence
    }

    /// Validates a whole text (one message, or one close reason) and, if it
    /// is not UTF-8, says where and why. `None` when it is valid.
    ///
    /// ```
    /// let evidence = wsframe::InvalidUtf8::of(b"Caf\xE9 au lait").unwrap();
    /// assert_eq!(evidence.offset(), 3);
    /// assert_eq!(evidence.bytes(), [0xE9]);
    /// assert_eq!(evidence.diagnosis(), wsframe::Diagnosis::Latin1 { byte: 0xE9, char: 'é' });
    /// ```
    pub fn of(text: &[u8]) -> Option<Self> {
        let error = utf8stream::validate(text).err()?;
        Some(Self::capture(text, 0, &error, 0))
    }

    /// Bytes of the text that were valid before the first offending byte.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// Which frame of the message (0 = the first) held the first offending
    /// byte; 0 for a close reason.
    pub const fn frame(&self) -> u32 {
        self.frame
    }

    /// The offending bytes: the invalid sequence (1 to 3 bytes, std's
    /// `error_len`), or the unfinished code point when the text ended inside
    /// one. Empty only if the receiver no longer held them.
    pub fn bytes(&self) -> &[u8] {
        let len = if self.error_len == 0 {
            self.at_len
        } else {
            self.error_len.min(self.at_len)
        };
        &self.at[..len as usize]
    }

    /// Up to 3 bytes that followed the offending ones, where known.
    pub fn following(&self) -> &[u8] {
        &self.at[self.bytes().len()..self.at_len as usize]
    }

    /// Up to [`CONTEXT_LEN`] bytes just before the offending ones.
    pub fn context(&self) -> &[u8] {
        &self.before[..self.before_len as usize]
    }

    /// Whether the text ended inside a code point (std's `error_len() == None`).
    pub const fn is_cut_at_end(&self) -> bool {
        self.error_len == 0
    }

    /// The most likely cause, from the bytes alone.
    pub fn diagnosis(&self) -> Diagnosis {
        diagnose(self)
    }

    /// The one-line form for a close frame's reason: the offending bytes in
    /// hex and a short hint, e.g. `E9 (Latin-1 'é'?)`.
    pub fn short(&self) -> impl fmt::Display + '_ {
        Short(self)
    }

    /// The form for a log: the bytes around the error in hex with the
    /// offending ones in brackets, the likely cause and the fix.
    pub fn long(&self) -> impl fmt::Display + '_ {
        Long(self)
    }

    /// Whether [`context`](Self::context) starts at the text's first byte.
    fn context_is_whole_prefix(&self) -> bool {
        self.offset == u64::from(self.before_len)
    }
}

impl fmt::Debug for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidUtf8")
            .field("offset", &self.offset)
            .field("frame", &self.frame)
            .field("bytes", &Hex(self.bytes()))
            .field("context", &Hex(self.context()))
            .field("cut_at_end", &self.is_cut_at_end())
            .finish()
    }
}

/// The most likely reason a text was not UTF-8.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Diagnosis {
    /// A byte of a legacy 8-bit encoding (ISO 8859-1 or Windows-1252) in
    /// otherwise ASCII or UTF-8 text.
    Latin1 {
        /// The byte.
        byte: u8,
        /// The character it stands for in Windows-1252 (a superset of Latin-1
        /// in 0x80-0x9F).
        char: char,
    },
    /// UTF-16 text: a byte-order mark, or a zero byte every other byte.
    Utf16,
    /// Binary data sent as a text message.
    Binary {
        /// The file format its signature names, if one did.
        format: Option<&'static str>,
    },
    /// The text ended inside a code point: a character was split across
    /// messages (or the sender cut the text by bytes, not characters).
    CutCodePoint,
    /// An encoded UTF-16 surrogate (`ED A0..BF ..`): CESU-8 or Java's
    /// modified UTF-8, which encode a character above U+FFFF as two
    /// surrogates.
    Surrogate,
    /// An overlong encoding (`C0`/`C1`, `E0 80..9F`, `F0 80..8F`), such as
    /// Java's modified UTF-8 NUL `C0 80`.
    Overlong,
    /// A code point above U+10FFFF (`F4 90..`, `F5`-`F7`).
    AboveMax,
    /// None of the above: the bytes are shown in hex.
    Unknown,
}

impl Diagnosis {
    /// A few words for the close frame's reason.
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Latin1 { char, .. } => format!("Latin-1 '{char}'?"),
            Self::Utf16 => "UTF-16?".to_owned(),
            Self::Binary { format: Some(name) } => format!("binary: {name}?"),
            Self::Binary { format: None } => "binary data?".to_owned(),
            Self::CutCodePoint => "character cut at the end".to_owned(),
            Self::Surrogate => "CESU-8 surrogate?".to_owned(),
            Self::Overlong => "overlong encoding".to_owned(),
            Self::AboveMax => "above U+10FFFF".to_owned(),
            Self::Unknown => return None,
        })
    }

    /// What the sender most likely did, in a sentence.
    fn cause(&self, evidence: &InvalidUtf8) -> String {
        let bytes = Hex(evidence.bytes());
        match self {
            Self::Latin1 { byte, char } => format!(
                "the byte {byte:02X} looks like '{char}' in Latin-1 / Windows-1252: the sender encoded the text in a legacy 8-bit encoding, not UTF-8"
            ),
            Self::Utf16 => "the bytes look like UTF-16 (a byte-order mark, or a zero byte every other byte): the sender sent a UTF-16 string's bytes".to_owned(),
            Self::Binary { format: Some(name) } => {
                format!("the message starts like a {name}: binary data was sent as a text message")
            }
            Self::Binary { format: None } => "many control bytes: binary data (e.g. protobuf or a compressed payload) was sent as a text message".to_owned(),
            Self::CutCodePoint => format!(
                "the text ends inside a character ({bytes}): the sender split a character across messages, or cut a string by bytes instead of characters"
            ),
            Self::Surrogate => format!(
                "{bytes} encodes a UTF-16 surrogate: CESU-8 or Java's modified UTF-8 (a character above U+FFFF written as two surrogates)"
            ),
            Self::Overlong => {
                if evidence.at[..evidence.at_len as usize].starts_with(&[0xC0, 0x80]) {
                    "C0 80 is an overlong encoding of NUL, as Java's modified UTF-8 (DataOutput.writeUTF, JNI) writes it".to_owned()
                } else {
                    format!("{bytes} is an overlong encoding (a character written with more bytes than UTF-8 allows)")
                }
            }
            Self::AboveMax => format!("{bytes} encodes a code point above U+10FFFF, which UTF-8 does not allow"),
            Self::Unknown => format!("the bytes {bytes} are not UTF-8"),
        }
    }

    /// What to change on the sending side.
    fn fix(&self) -> &'static str {
        match self {
            Self::Latin1 { .. } | Self::Utf16 => {
                "encode text as UTF-8 before sending it as a text message, or send the bytes as a binary message"
            }
            Self::Binary { .. } => "send raw bytes as a binary message (opcode 0x2), not as text",
            Self::CutCodePoint => {
                "send each string whole in one message (fragments of one message may split a character; separate messages may not)"
            }
            Self::Surrogate | Self::Overlong => {
                "encode with a standard UTF-8 encoder (e.g. String.getBytes(StandardCharsets.UTF_8) in Java, not writeUTF)"
            }
            Self::AboveMax | Self::Unknown => {
                "check the sender's text encoding; if the payload is not text, send it as a binary message"
            }
        }
    }
}

/// The file signatures recognised at the start of a text.
const SIGNATURES: [(&[u8], &str); 6] = [
    (b"\x89PNG", "PNG image"),
    (b"\x1F\x8B", "gzip stream"),
    (b"PK\x03\x04", "zip archive"),
    (b"%PDF", "PDF document"),
    (b"\xFF\xD8\xFF", "JPEG image"),
    (b"GIF8", "GIF image"),
];

fn diagnose(evidence: &InvalidUtf8) -> Diagnosis {
    let bytes = evidence.bytes();
    let context = evidence.context();
    let mut start = [0u8; CONTEXT_LEN + 4];
    let seen = {
        let (head, tail) = start.split_at_mut(context.len());
        head.copy_from_slice(context);
        let rest = &evidence.at[..evidence.at_len as usize];
        tail[..rest.len()].copy_from_slice(rest);
        &start[..context.len() + rest.len()]
    };
    let at_text_start = evidence.context_is_whole_prefix();

    if at_text_start && (seen.starts_with(&[0xFF, 0xFE]) || seen.starts_with(&[0xFE, 0xFF])) {
        return Diagnosis::Utf16;
    }
    if at_text_start {
        if let Some((_, name)) = SIGNATURES.iter().find(|(sig, _)| seen.starts_with(sig)) {
            return Diagnosis::Binary { format: Some(name) };
        }
    }
    if looks_like_utf16(context, evidence.offset) {
        return Diagnosis::Utf16;
    }
    let at = &evidence.at[..evidence.at_len as usize];
    match *at {
        [0xED, 0xA0..=0xBF, ..] => return Diagnosis::Surrogate,
        [0xC0 | 0xC1, 0x80..=0xBF, ..] | [0xE0, 0x80..=0x9F, ..] | [0xF0, 0x80..=0x8F, ..] => {
            return Diagnosis::Overlong
        }
        [0xF4, 0x90..=0xBF, ..] | [0xF5..=0xF7, 0x80..=0xBF, ..] => return Diagnosis::AboveMax,
        _ => {}
    }
    if mostly_control_bytes(seen) {
        return Diagnosis::Binary { format: None };
    }
    if evidence.is_cut_at_end() && bytes.len() > 1 {
        return Diagnosis::CutCodePoint;
    }
    // One byte that stands for a character in Windows-1252, not followed by
    // a continuation byte (which would make it part of a UTF-8 sequence).
    if let [byte] = *bytes {
        let next_is_continuation = matches!(evidence.following().first(), Some(0x80..=0xBF));
        if let Some(char) = windows_1252(byte).filter(|_| !next_is_continuation) {
            return Diagnosis::Latin1 { byte, char };
        }
    }
    if evidence.is_cut_at_end() {
        return Diagnosis::CutCodePoint;
    }
    Diagnosis::Unknown
}

/// A zero byte in every other position of the context (at least two of
/// them), the shape of ASCII text in UTF-16.
fn looks_like_utf16(context: &[u8], offset: u64) -> bool {
    if context.len() < 4 {
        return false;
    }
    let start = offset - context.len() as u64;
    [0u64, 1].iter().any(|&parity| {
        let mut zeros = 0;
        let all = context.iter().enumerate().all(|(i, &b)| {
            let on_parity = (start + i as u64) % 2 == parity;
            if on_parity {
                zeros += usize::from(b == 0);
                b == 0
            } else {
                b != 0
            }
        });
        all && zeros >= 2
    })
}

/// A quarter or more of the bytes are C0 controls other than tab, LF and CR.
fn mostly_control_bytes(seen: &[u8]) -> bool {
    let controls = seen
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    seen.len() >= 4 && controls * 4 >= seen.len()
}

/// The character a byte of 0x80-0xFF stands for in Windows-1252 (0xA0-0xFF
/// are Latin-1's); `None` for the five bytes it leaves undefined.
fn windows_1252(byte: u8) -> Option<char> {
    const C1: [u16; 32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
        0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ];
    match byte {
        0x80..=0x9F => match C1[usize::from(byte - 0x80)] {
            0 => None,
            code => char::from_u32(u32::from(code)),
        },
        0xA0..=0xFF => Some(char::from(byte)),
        _ => None,
    }
}

/// Bytes as space-separated upper-case hex.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

struct Short<'a>(&'a InvalidUtf8);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let evidence = self.0;
        write!(f, "{}", Hex(evidence.bytes()))?;
        if let Some(hint) = evidence.diagnosis().hint() {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

struct Long<'a>(&'a InvalidUtf8);

impl fmt::Display for Long<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let evidence = self.0;
        let diagnosis = evidence.diagnosis();
        f.write_str("bytes: ")?;
        if !evidence.context_is_whole_prefix() {
            f.write_str("... ")?;
        }
        if !evidence.context().is_empty() {
            write!(f, "{} ", Hex(evidence.context()))?;
        }
        write!(f, "[{}]", Hex(evidence.bytes()))?;
        if !evidence.following().is_empty() {
            write!(f, " {}", Hex(evidence.following()))?;
        }
        write!(
            f,
            "\n  likely cause: {}\n  fix: {}",
            diagnosis.cause(evidence),
            diagnosis.fix()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnosis_of(text: &[u8]) -> Diagnosis {
        InvalidUtf8::of(text).expect("invalid").diagnosis()
    }

    #[test]
    fn each_cause_is_recognised_from_its_bytes() {
        let cases: [(&[u8], Diagnosis); 14] = [
            (
                b"Caf\xE9 au lait",
                Diagnosis::Latin1 {
                    byte: 0xE9,
                    char: 'é',
                },
            ),
            (
                b"na\xEFve",
                Diagnosis::Latin1 {
                    byte: 0xEF,
                    char: 'ï',
                },
            ),
            (
                b"\x93quoted\x94",
                Diagnosis::Latin1 {
                    byte: 0x93,
                    char: '\u{201C}',
                },
            ),
            (
                b"Gr\xF6\xDFe",
                Diagnosis::Latin1 {
                    byte: 0xF6,
                    char: '\u{f6}',
                },
            ),
            (b"\xFF\xFEh\x00i\x00", Diagnosis::Utf16),
            (b"h\x00e\x00l\x00l\x00\xE9\x00", Diagnosis::Utf16),
            (
                b"\x89PNG\r\n\x1A\n\x00\x00",
                Diagnosis::Binary {
                    format: Some("PNG image"),
                },
            ),
            (
                b"\x1F\x8B\x08\x00",
                Diagnosis::Binary {
                    format: Some("gzip stream"),
                },
            ),
            (
                b"\x08\x96\x01\x12\x04\x08\x01\x10\xFF",
                Diagnosis::Binary { format: None },
            ),
            (b"smile \xF0\x9F\x98", Diagnosis::CutCodePoint),
            (b"emoji \xED\xA0\xBD\xED\xB8\x80", Diagnosis::Surrogate),
            (b"nul \xC0\x80 here", Diagnosis::Overlong),
            (b"x \xF4\x90\x80\x80", Diagnosis::AboveMax),
            (b"abc \x80\x80", Diagnosis::Unknown),
        ];
        for (text, expected) in cases {
            assert_eq!(diagnosis_of(text), expected, "{:?}", Hex(text));
        }
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x9c";
        assert_eq!(
            diagnosis_of(zip),
            Diagnosis::Binary {
                format: Some("zip archive")
            }
        );
        assert_eq!(
            diagnosis_of(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3"),
            Diagnosis::Binary {
                format: Some("PDF document")
            }
        );
    }

    #[test]
    fn evidence_names_stds_offset_and_bytes() {
        let text = b"0123456789abcdefgh\xF0\x9F\x41tail";
        let evidence = InvalidUtf8::of(text).unwrap();
        let std = std::str::from_utf8(std::hint::black_box(text)).unwrap_err();
        assert_eq!(evidence.offset(), std.valid_up_to() as u64);
        assert_eq!(
            evidence.bytes(),
            &text[std.valid_up_to()..][..std.error_len().unwrap()]
        );
        assert_eq!(evidence.context(), b"6789abcdefgh");
        assert_eq!(evidence.following(), b"At");
    }

    proptest::proptest! {
        /// Any invalid text gets evidence naming std's offset and offending
        /// bytes, the bytes before them, and a short form within a close
        /// frame's reason.
        #[test]
        fn any_invalid_text_is_named_as_std_names_it(
            text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let std = std::str::from_utf8(&text);
            let evidence = InvalidUtf8::of(&text);
            proptest::prop_assert_eq!(std.is_ok(), evidence.is_none());
            if let (Err(std), Some(evidence)) = (std, evidence) {
                let at = std.valid_up_to();
                let bad = match std.error_len() {
                    Some(len) => &text[at..at + len],
                    None => &text[at..],
                };
                proptest::prop_assert_eq!(evidence.offset(), at as u64);
                proptest::prop_assert_eq!(evidence.bytes(), bad);
                proptest::prop_assert_eq!(evidence.is_cut_at_end(), std.error_len().is_none());
                proptest::prop_assert_eq!(evidence.context(), &text[at.saturating_sub(CONTEXT_LEN)..at]);
                let _ = evidence.diagnosis();
                proptest::prop_assert!(evidence.short().to_string().len() <= 40);
            }
        }
    }

    #[test]
    fn short_form_carries_hex_and_hint() {
        let evidence = InvalidUtf8::of(b"Caf\xE9").unwrap();
        assert_eq!(evidence.short().to_string(), "E9 (Latin-1 '\u{e9}'?)");
        let long = evidence.long().to_string();
        assert!(long.starts_with("bytes: 43 61 66 [E9]"), "{long}");
        assert!(long.contains("encode text as UTF-8"), "{long}");
    }
}
