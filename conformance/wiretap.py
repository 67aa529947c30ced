"""A TCP relay that watches the WebSocket frames passing through it.

A peer connects to the tap instead of the server; every byte is relayed
unchanged both ways, and the tap records, per connection, the 101 response's
`Sec-WebSocket-Extensions` and each data message as it was on the wire: its
opcode, whether its first frame had RSV1 set (RFC 7692 §6: compressed), how
many frames and how many payload bytes it took. So a check can see that a
message really went compressed, without trusting either end's own report.

    tap = WireTap(server_port)       # listens on 127.0.0.1:tap.port
    ...                              # the peer talks through tap.port
    (conn,) = tap.upgraded()         # connections that got a 101
    conn.extensions, conn.messages["client"], conn.messages["server"]
"""
import socket
import threading
from dataclasses import dataclass, field

OPCODES = {0x1: "text", 0x2: "binary"}


@dataclass
class WireMessage:
    """One data message as it crossed the wire."""

    kind: str  # "text" or "binary"
    rsv1: bool  # set on its first frame: compressed (RFC 7692 §6)
    frames: int = 0
    wire_bytes: int = 0  # payload bytes on the wire, all frames


@dataclass
class Direction:
    """The frame parser of one direction: skips the HTTP head, then reads
    frame headers and skips their payloads, however the bytes were cut."""

    messages: list = field(default_factory=list)
    control_rsv: list = field(default_factory=list)  # RSV bits of control frames
    head: bytes = b""
    in_head: bool = True
    pending: bytes = b""
    skip: int = 0  # payload bytes of the current frame still to pass

    def feed(self, data: bytes):
        if self.in_head:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.in_head = False
            data = self.head[end + 4:]
            self.head = self.head[:end + 4]
        self.pending += data
        while True:
            if self.skip:
                taken = min(self.skip, len(self.pending))
                self.pending, self.skip = self.pending[taken:], self.skip - taken
                if self.skip:
                    return
            header = frame_header(self.pending)
            if header is None:
                return
            used, fin_rsv_opcode, length = header
            self.pending, self.skip = self.pending[used:], length
            opcode, rsv = fin_rsv_opcode & 0x0F, fin_rsv_opcode & 0x70
            if opcode >= 0x8:
                self.control_rsv.append(rsv)
                continue
            if opcode != 0x0:
                self.messages.append(WireMessage(OPCODES.get(opcode, hex(opcode)), bool(rsv & 0x40)))
            if self.messages:
                self.messages[-1].frames += 1
                self.messages[-1].wire_bytes += length


def frame_header(buf: bytes):
    """(header length, first byte, payload length) of the frame at the start
    of `buf`, or None if its header is not whole yet (RFC 6455 §5.2)."""
    if len(buf) < 2:
        return None
    length, used = buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, used = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, used = int.from_bytes(buf[2:10], "big"), 10
    if buf[1] & 0x80:
        used += 4  # the masking key
    return (used, buf[0], length) if len(buf) >= used else None


class TappedConnection:
    """What the tap saw on one connection."""

    def __init__(self):
        self.client = Direction()
        self.server = Direction()

    @property
    def status(self) -> int | None:
        """The response's status code, once its head is whole."""
        if self.server.in_head:
            return None
        return int(self.server.head.split(b" ", 2)[1])

    @property
    def extensions(self) -> str:
        """The response's `Sec-WebSocket-Extensions`, joined ("" if none)."""
        values = [line.split(b":", 1)[1].strip().decode()
                  for line in self.server.head.split(b"\r\n")[1:]
                  if line.lower().startswith(b"sec-websocket-extensions:")]
        return ", ".join(values)

    @property
    def messages(self) -> dict:
        return {"client": self.client.messages, "server": self.server.messages}


class WireTap:
    """Listens on 127.0.0.1 (a free port, `self.port`) and relays each
    connection to 127.0.0.1:`upstream`, recording its frames."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.connections = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def upgraded(self):
        """The connections that were answered with a 101."""
        return [c for c in self.connections if c.status == 101]

    def _accept(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            conn = TappedConnection()
            self.connections.append(conn)
            for src, dst, direction in [(downstream, upstream, conn.client),
                                        (upstream, downstream, conn.server)]:
                threading.Thread(target=relay, args=(src, dst, direction), daemon=True).start()

    def close(self):
        self.listener.close()


def relay(src: socket.socket, dst: socket.socket, direction: Direction):
    """Copies src to dst, showing every byte to `direction`, until src ends;
    then ends dst's sending side, as src did."""
    try:
        while data := src.recv(65536):
            direction.feed(data)
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
