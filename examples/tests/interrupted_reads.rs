//! The tests' blocking client reads again when a signal interrupts a read
//! (`Interrupted`, EINTR): `server_limits`'
//! `a_message_over_16_mib_in_one_frame_is_echoed` failed once with it, as
//! `next_event`'s `read` loop passed it on (`read_exact` and `write_all`
//! retry it; a loop of `read`s has to). A stream that is interrupted
//! before every byte still gives the message, read whole, byte by byte.

mod common;

use std::io::{self, Read, Write};

use common::next_event;
use wsframe::{Config, Connection, Event, Message, Role};

/// Serves `input` one byte a read, each read after an `Interrupted`
/// error; takes every write.
struct Interrupting {
    input: Vec<u8>,
    read: usize,
    interrupt_next: bool,
    interrupted: usize,
}

impl Read for Interrupting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt_next = !self.interrupt_next;
        if self.interrupt_next {
            self.interrupted += 1;
            return Err(io::ErrorKind::Interrupted.into());
        }
        let Some(&byte) = self.input.get(self.read) else {
            return Ok(0);
        };
        buf[0] = byte;
        self.read += 1;
        Ok(1)
    }
}

impl Write for Interrupting {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn next_event_reads_on_after_an_interrupted_read() {
    let message = Message::from("through the signals");
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(message.clone()).expect("send");
    let wire = server.take_output().to_vec();
    let mut stream = Interrupting {
        input: wire.clone(),
        read: 0,
        interrupt_next: false,
        interrupted: 0,
    };
    let mut conn = Connection::new(Role::Client, Config::default());
    match next_event(&mut stream, &mut conn).expect("the message") {
        Event::Message(got) => assert!(got == message, "{got:?}"),
        other => panic!("expected the message, got {other:?}"),
    }
    assert_eq!(stream.read, wire.len());
    assert_eq!(
        stream.interrupted,
        wire.len(),
        "interrupted before each byte"
    );
}
