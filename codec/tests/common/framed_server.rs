//! A server `WsCodec` in a `tokio_util::codec::Framed`, served as an
//! embedder serves it: every event taken, what it asks to send flushed.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;
use wsframe::{
    tokio::{Outgoing, WsCodec},
    Event,
};

/// The events until the peer's close (or the end of the stream), each
/// followed by `Outgoing::Flush` so that pongs and the close reply reach
/// the wire; the server stops reading at the close, as it closes TCP first
/// (RFC 6455 §7.1.1).
pub async fn events_until_closed<T: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<T, WsCodec>,
) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(event) = framed.next().await {
        let event = event.unwrap();
        let closed = matches!(event, Event::Closed(_));
        events.push(event);
        framed.send(Outgoing::Flush).await.unwrap();
        if closed {
            break;
        }
    }
    events
}
