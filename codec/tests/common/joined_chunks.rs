//! A streamed message's chunks (`Event::Chunk`) joined back into the
//! message, for comparing runs cut in different places.

use wsframe::Message;

/// The chunks of the message being streamed, joined as they come.
#[derive(Default)]
pub struct JoinedChunks(Option<(bool, Vec<u8>)>);

impl JoinedChunks {
    /// Adds a chunk; after the last one, the whole message: whether it is
    /// text, and its bytes.
    pub fn push(&mut self, data: &Message, last: bool) -> Option<(bool, Vec<u8>)> {
        let text = matches!(data, Message::Text(_));
        let entry = self.0.get_or_insert((text, Vec::new()));
        entry.1.extend_from_slice(data.as_bytes());
        if last {
            self.0.take()
        } else {
            None
        }
    }

    /// How many bytes of the open message have come so far (0 between
    /// messages).
    pub fn bytes_so_far(&self) -> usize {
        self.0.as_ref().map_or(0, |(_, bytes)| bytes.len())
    }
}
