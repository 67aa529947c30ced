//! The two pieces of URI grammar a handshake carries: the request target
//! (RFC 9112 §3.2) and the `Host` value (RFC 9110 §7.2), both as RFC 3986
//! spells them. Only checks and offsets: nothing is decoded or normalised.

use std::net::Ipv6Addr;
use std::ops::Range;

/// Where the parts of a valid request target are, as offsets into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TargetParts {
    /// The authority of an absolute-form target (`ws://host:port/…`), which
    /// a server uses instead of `Host` (RFC 9112 §3.2.2); `None` in origin
    /// form.
    pub authority: Option<Range<usize>>,
    /// Where the origin-form part (`/path?query`, possibly empty in absolute
    /// form) starts.
    pub resource: usize,
}

/// Splits a GET's request target: origin form (`/path?query`, RFC 9112
/// §3.2.1) or absolute form with a `ws`, `wss`, `http` or `https` scheme
/// (§3.2.2). `None` for anything else: the asterisk and authority forms
/// (which a GET cannot use), a relative path, another scheme, userinfo
/// (RFC 9110 §4.2.4), a fragment, or a byte outside RFC 3986's set.
pub(crate) fn parse_target(target: &[u8]) -> Option<TargetParts> {
    if target.first() == Some(&b'/') {
        return is_path_and_query(target).then_some(TargetParts {
            authority: None,
            resource: 0,
        });
    }
    let scheme_end = target.iter().position(|&b| b == b':')?;
    let scheme = &target[..scheme_end];
    let known = ["ws", "wss", "http", "https"];
    if !known
        .iter()
        .any(|k| scheme.eq_ignore_ascii_case(k.as_bytes()))
    {
        return None;
    }
    let rest = target[scheme_end..].strip_prefix(b"://")?;
    let authority_start = scheme_end + 3;
    let authority_len = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let resource = authority_start + authority_len;
    (is_authority(&rest[..authority_len]) && is_path_and_query(&target[resource..])).then_some(
        TargetParts {
            authority: Some(authority_start..resource),
            resource,
        },
    )
}

/// Whether `value` is `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986
/// §3.2.2-3): a non-empty registered name or IPv4 address, or an IPv6
/// address in brackets, then an optional port of 1-5 digits up to 65535.
/// This is what `Host` must hold and what a client may put there.
pub(crate) fn is_authority(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = std::str::from_utf8(&value[1..close]).ok();
        if literal.and_then(|l| l.parse::<Ipv6Addr>().ok()).is_none() {
            return false;
        }
        match &value[close + 1..] {
            [] => (&value[..=close], None),
            [b':', port @ ..] => (&value[..=close], Some(port)),
            _ => return false,
        }
    } else {
        match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
            None => (value, None),
        }
    };
    let reg_name_or_literal = host.first() == Some(&b'[') || is_reg_name(host);
    reg_name_or_literal && port.is_none_or(is_port)
}

/// A port: 1-5 digits, at most 65535.
fn is_port(port: &[u8]) -> bool {
    (1..=5).contains(&port.len())
        && port.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(port).is_ok_and(|p| p.parse::<u16>().is_ok())
}

/// A non-empty `reg-name` (which covers IPv4 addresses): unreserved,
/// sub-delims and percent-encodings (RFC 3986 §3.2.2).
fn is_reg_name(host: &[u8]) -> bool {
    !host.is_empty() && is_pct_encoded_over(host, |b| is_unreserved(b) || is_sub_delim(b))
}

/// An `absolute-path [ "?" query ]`, or nothing, as servers must take it
/// from real clients: visible ASCII without `#` (a fragment is never sent,
/// RFC 9112 §3.2). Browsers leave `|`, `{`, `[`, a lone `%`… unencoded in
/// paths and queries (the WHATWG URL standard's percent-encode sets), so
/// RFC 3986's narrower set is only what [`is_uri_char`] asks of targets we
/// write.
fn is_path_and_query(s: &[u8]) -> bool {
    (s.is_empty() || s[0] == b'/' || s[0] == b'?')
        && s.iter().all(|&b| b.is_ascii_graphic() && b != b'#')
}

/// Whether `b` may appear unencoded in a path or query that we write (RFC
/// 3986 §3.3-3.4: unreserved, sub-delims, `:@/?`, plus `[]` and `%` of
/// percent-encodings, which every parser takes).
pub(crate) fn is_uri_char(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || b":@/?[]%".contains(&b)
}

/// Whether every byte of `s` is `allowed`, or a `%` followed by two hex
/// digits (RFC 3986 §2.1).
fn is_pct_encoded_over(s: &[u8], allowed: impl Fn(u8) -> bool) -> bool {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if !s
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
        } else if allowed(s[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `unreserved` of RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// `sub-delims` of RFC 3986 §2.2.
fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_7_2_hosts() {
        for good in [
            "example.com",
            "example.com:8080",
            "127.0.0.1:9001",
            "[::1]",
            "[::1]:9001",
            "[2001:db8::7]:443",
            "xn--bcher-kva.example",
            "a%2Db",
            "host:65535",
        ] {
            assert!(is_authority(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            ":80",
            "x/evil",
            "a b",
            "user@host",
            "host:",
            "host:65536",
            "host:123456",
            "host:8o",
            "[::1",
            "[::1]x",
            "[not-ip]",
            "[fe80::1%25eth0]",
            "a%2",
            "a%zz",
            "h\u{e9}",
            "a?b",
            "a#b",
        ] {
            assert!(!is_authority(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn rfc9112_3_2_targets() {
        let origin = |resource| {
            Some(TargetParts {
                authority: None,
                resource,
            })
        };
        assert_eq!(parse_target(b"/"), origin(0));
        assert_eq!(parse_target(b"/chat?room=1&x=%20"), origin(0));
        assert_eq!(parse_target(b"//double"), origin(0));
        // What browsers send unencoded (WHATWG URL: the query set).
        assert_eq!(parse_target(br#"/q?a[]={1}|^`&p=100%"#), origin(0));
        assert_eq!(
            parse_target(b"ws://example.com:9001/chat?x"),
            Some(TargetParts {
                authority: Some(5..21),
                resource: 21,
            })
        );
        assert_eq!(
            parse_target(b"HTTPS://h?q"),
            Some(TargetParts {
                authority: Some(8..9),
                resource: 9,
            })
        );
        assert_eq!(
            parse_target(b"wss://[::1]"),
            Some(TargetParts {
                authority: Some(6..11),
                resource: 11,
            })
        );
        for bad in [
            "",
            "*",
            "chat",
            "example.com:443",
            "ftp://h/",
            "ws:/h/",
            "ws://",
            "ws://u@h/",
            "ws://h:x/",
            "/a b",
            "/#frag",
            "/\u{e9}",
        ] {
            assert_eq!(parse_target(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
