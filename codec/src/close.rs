//! Close codes (RFC 6455 §7.4) and what each one means to a person reading logs.

use std::fmt;

/// A close status code: a `u16` with a name for every registered value.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

macro_rules! registered_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        impl CloseCode {
            $($(#[$doc])* pub const $name: CloseCode = CloseCode($value);)*
        }
    };
}

registered_codes! {
    /// 1000: the purpose of the connection was fulfilled.
    NORMAL = 1000,
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    GOING_AWAY = 1001,
    /// 1002: an endpoint broke the protocol.
    PROTOCOL_ERROR = 1002,
    /// 1003: an endpoint received a type of data it cannot accept.
    UNSUPPORTED_DATA = 1003,
    /// 1004: reserved, never sent.
    RESERVED = 1004,
    /// 1005: stands for "the close frame had no code"; never sent.
    NO_STATUS_RECEIVED = 1005,
    /// 1006: stands for "closed without a close frame"; never sent.
    ABNORMAL = 1006,
    /// 1007: a message's data did not match its type (non-UTF-8 text).
    INVALID_PAYLOAD = 1007,
    /// 1008: a message violated the endpoint's policy.
    POLICY_VIOLATION = 1008,
    /// 1009: a message was too big to process.
    MESSAGE_TOO_BIG = 1009,
    /// 1010: the client needed an extension the server did not negotiate.
    MANDATORY_EXTENSION = 1010,
    /// 1011: the server hit an unexpected condition.
    INTERNAL_ERROR = 1011,
    /// 1012: the service is restarting.
    SERVICE_RESTART = 1012,
    /// 1013: the service is overloaded; try again later.
    TRY_AGAIN_LATER = 1013,
    /// 1014: a gateway or proxy got an invalid response upstream.
    BAD_GATEWAY = 1014,
    /// 1015: stands for "the TLS handshake failed"; never sent.
    TLS_HANDSHAKE = 1015,
}

/// What a close code means, when it is seen, and how to fix its cause.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The code.
    pub code: CloseCode,
    /// Its registered name, or the range it belongs to.
    pub name: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// When you see it.
    pub when: &'static str,
    /// How to fix what caused it.
    pub fix: &'static str,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.code.0, self.name)?;
        writeln!(f, "  meaning: {}", self.meaning)?;
        writeln!(f, "  when:    {}", self.when)?;
        write!(f, "  fix:     {}", self.fix)
    }
}

impl CloseCode {
    /// Whether an endpoint may put this code in a close frame (RFC 6455
    /// §7.4.1, §7.4.2): 1000–1003, 1007–1014 and 3000–4999.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The meaning of the code, when it shows up and what to do about it: the
    /// text a server puts in its logs.
    ///
    /// ```
    /// use wsframe::CloseCode;
    /// let e = CloseCode::INVALID_PAYLOAD.explain();
    /// assert_eq!(e.name, "Invalid frame payload data");
    /// assert!(e.fix.contains("binary"));
    /// ```
    pub const fn explain(self) -> Explanation {
        let (name, meaning, when, fix) = match self.0 {
            1000 => (
                "Normal Closure",
                "The purpose for which the connection was established has been fulfilled; both ends agree to close.",
                "At the end of every orderly session: one side called close() and the other answered.",
                "Nothing to fix. If the close was not expected, look for a premature close() call on the side that sent it.",
            ),
            1001 => (
                "Going Away",
                "The endpoint is going away: a server shutting down or a browser leaving the page.",
                "During deploys and restarts, or when a user navigates away or closes a tab.",
                "Usually nothing; reconnect with backoff. If it happens mid-session, check the server's shutdown and idle-timeout settings.",
            ),
            1002 => (
                "Protocol Error",
                "The endpoint received something that breaks RFC 6455 (bad framing, reserved bits or opcodes, wrong masking, broken fragmentation, a bad close frame).",
                "When one side has a buggy or non-conforming WebSocket implementation, or a proxy mangles frames.",
                "Find the cause in the closing side's log (the reason names the rule broken) and fix the sender, or upgrade its WebSocket library.",
            ),
            1003 => (
                "Unsupported Data",
                "The endpoint received a type of data it cannot accept (for example binary where only text is understood).",
                "When an application speaks only text or only binary and the peer sends the other.",
                "Send the message type the peer's application expects.",
            ),
            1004 => (
                "Reserved",
                "Reserved by RFC 6455; its meaning may be defined in the future.",
                "Never on the wire: a frame carrying it is a protocol error.",
                "Do not send it; use 1000, 1001 or an application code (3000-4999).",
            ),
            1005 => (
                "No Status Received",
                "Stands for a close frame that carried no status code.",
                "Only in APIs and logs, after the peer sent an empty close frame; never on the wire.",
                "Nothing to fix, unless you want the peer to say why: have it send a code.",
            ),
            1006 => (
                "Abnormal Closure",
                "Stands for a connection that ended without a close frame.",
                "Only in APIs and logs, when the TCP connection dropped: a crash, a network failure, a timeout, or a peer that fails the connection without a close frame.",
                "Check the network path, proxies' idle timeouts, and the peer's logs for a crash.",
            ),
            1007 => (
                "Invalid frame payload data",
                "A message's payload was inconsistent with its type: a text message (or a close reason) that is not valid UTF-8.",
                "When binary data or text in another encoding (Latin-1, UTF-16) is sent in a text frame, or a multi-byte character is cut and mangled.",
                "Send raw bytes as binary frames, and encode text as UTF-8 before sending it as text.",
            ),
            1008 => (
                "Policy Violation",
                "A message violated the endpoint's policy; a generic code when no better one fits.",
                "When authentication fails, a rate limit is hit, or the application refuses a message.",
                "Read the close reason and the closing side's log for which policy was violated.",
            ),
            1009 => (
                "Message Too Big",
                "A frame or message was too big for the endpoint to process.",
                "When a message exceeds the receiver's configured frame or message size limit.",
                "Send smaller messages, or raise the receiver's limit (or use its streaming mode) if the size is legitimate.",
            ),
            1010 => (
                "Mandatory Extension",
                "The client needed an extension that the server did not negotiate.",
                "After a handshake that left out an extension (such as permessage-deflate) the client requires.",
                "Enable the extension on the server, or stop requiring it on the client.",
            ),
            1011 => (
                "Internal Error",
                "The server met an unexpected condition that kept it from fulfilling the request.",
                "When the server's application code fails (an exception, a crashed handler).",
                "Look in the server's logs for the failure at the time of the close.",
            ),
            1012 => (
                "Service Restart",
                "The service is restarting.",
                "During a rolling restart or deploy.",
                "Reconnect after a short, randomised delay.",
            ),
            1013 => (
                "Try Again Later",
                "The service is overloaded or temporarily unable to serve.",
                "Under load shedding or maintenance.",
                "Reconnect later, with exponential backoff.",
            ),
            1014 => (
                "Bad Gateway",
                "A gateway or proxy received an invalid response from the upstream server.",
                "When a WebSocket proxy cannot reach or understand its upstream.",
                "Check the upstream server behind the gateway.",
            ),
            1015 => (
                "TLS Handshake",
                "Stands for a connection closed because the TLS handshake failed.",
                "Only in APIs and logs, for a certificate that cannot be verified or no common cipher; never on the wire.",
                "Fix the certificate chain, host name or TLS configuration.",
            ),
            0..=999 => (
                "Unused",
                "Codes below 1000 are not used by RFC 6455.",
                "Never in a valid close frame: receiving one is a protocol error (1002).",
                "Fix the sender to use 1000-1003, 1007-1014 or an application code (3000-4999).",
            ),
            1016..=2999 => (
                "Reserved for the protocol",
                "Reserved for future revisions of RFC 6455 and for extensions; not yet assigned.",
                "Never in a valid close frame today: receiving one is a protocol error (1002).",
                "Fix the sender to use an assigned code or an application code (3000-4999).",
            ),
            3000..=3999 => (
                "Registered application code",
                "Registered with IANA for libraries, frameworks and applications; its meaning is defined by whoever registered it.",
                "When a framework or application closes for its own reason.",
                "Look up the code in the IANA WebSocket close code registry or the framework's documentation.",
            ),
            4000..=4999 => (
                "Private application code",
                "Reserved for private use by agreement between the two applications; not registered.",
                "When your own application (or the peer's) closes for a reason it defines.",
                "See the application's own documentation for this code; RFC 6455 gives it no meaning.",
            ),
            _ => (
                "Invalid",
                "Codes above 4999 are outside every range RFC 6455 defines.",
                "Never in a valid close frame: receiving one is a protocol error (1002).",
                "Fix the sender to use 1000-1003, 1007-1014 or an application code (3000-4999).",
            ),
        };
        Explanation {
            code: self,
            name,
            meaning,
            when,
            fix,
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.explain().name)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // Every u16 through the interpreter takes minutes under Miri, and close
    // codes reach no unsafe code.
    #[cfg_attr(miri, ignore)]
    fn sendable_codes_are_exactly_the_rfc_ranges() {
        let sendable: Vec<u16> = (0..=u16::MAX)
            .filter(|&c| CloseCode(c).is_sendable())
            .collect();
        let expected: Vec<u16> = (1000..=1003)
            .chain(1007..=1014)
            .chain(3000..=4999)
            .collect();
        assert_eq!(sendable, expected);
    }

    #[test]
    fn every_registered_code_has_its_own_name() {
        let names: Vec<&str> = (1000..=1015).map(|c| CloseCode(c).explain().name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 16, "{names:?}");
        assert_eq!(
            CloseCode(3500).explain().name,
            "Registered application code"
        );
        assert_eq!(CloseCode(4001).explain().name, "Private application code");
        assert_eq!(CloseCode(2000).explain().name, "Reserved for the protocol");
        assert_eq!(CloseCode(6000).explain().name, "Invalid");
    }
}
