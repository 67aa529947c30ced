//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1): the offers in a request, the
//! accepted extensions in a response.
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-token = registered-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ; When using the quoted-string syntax variant, the value
//!     ; after quoted-string unescaping MUST conform to the 'token' ABNF.
//! ```

use std::fmt;

use super::{is_tchar, is_token, BuildError, HandshakeError};

/// One element of a `Sec-WebSocket-Extensions` list: an extension the client
/// offers, or one the server accepted, with its parameters in order.
///
/// ```
/// use wsframe::handshake::ExtensionOffer;
///
/// let offers = ExtensionOffer::parse_list([
///     &b"permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\""[..],
/// ])?;
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[0].name(), "permessage-deflate");
/// assert!(offers[0].param("client_max_window_bits").is_some_and(|p| p.value().is_none()));
/// assert_eq!(offers[1].param("server_max_window_bits").and_then(|p| p.value()), Some("10"));
/// assert_eq!(offers[1].to_string(), "permessage-deflate; server_max_window_bits=10");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    name: String,
    params: Vec<ExtensionParam>,
}

/// One `extension-param` (RFC 6455 §9.1): a name, with or without a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    name: String,
    value: Option<String>,
}

impl ExtensionParam {
    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, unquoted and unescaped; `None` for a parameter written
    /// without `=`.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl ExtensionOffer {
    /// An extension without parameters.
    ///
    /// # Errors
    ///
    /// [`BuildError::Extension`] if `name` is not a token.
    pub fn new(name: &str) -> Result<Self, BuildError> {
        if !is_token(name.as_bytes()) {
            return Err(BuildError::Extension);
        }
        Ok(Self {
            name: name.to_owned(),
            params: Vec::new(),
        })
    }

    /// Adds a parameter at the end, with a value or without one.
    ///
    /// # Errors
    ///
    /// [`BuildError::Extension`] if the name or the value is not a token
    /// (§9.1 allows only token values, quoted or not).
    pub fn with_param(mut self, name: &str, value: Option<&str>) -> Result<Self, BuildError> {
        if !is_token(name.as_bytes()) || value.is_some_and(|v| !is_token(v.as_bytes())) {
            return Err(BuildError::Extension);
        }
        self.params.push(ExtensionParam {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        });
        Ok(self)
    }

    /// The extension's name, such as `permessage-deflate`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every parameter, in the order written, duplicates included (an
    /// extension decides whether a repeated parameter is an error; RFC 7692
    /// §7 says it is for permessage-deflate).
    pub fn params(&self) -> &[ExtensionParam] {
        &self.params
    }

    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<&ExtensionParam> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Parses the values of every `Sec-WebSocket-Extensions` line, in order,
    /// into one list (the lines of a field are one comma-separated list, RFC
    /// 9110 §5.3). Empty list elements are skipped (RFC 9110 §5.6.1).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::MalformedExtensions`] for anything outside the
    /// grammar of RFC 6455 §9.1: a missing or non-token name, a `;` without
    /// a parameter, a value that is neither a token nor a quoted-string
    /// whose unescaped content is a token, an unterminated quoted-string,
    /// or any other byte out of place. A server answers it with 400.
    pub fn parse_list<'v>(
        values: impl IntoIterator<Item = &'v [u8]>,
    ) -> Result<Vec<Self>, HandshakeError> {
        let mut offers = Vec::new();
        for value in values {
            Parser { rest: value }
                .list(&mut offers)
                .ok_or(HandshakeError::MalformedExtensions)?;
        }
        Ok(offers)
    }
}

impl fmt::Display for ExtensionOffer {
    /// The wire form, `name; param; param=value`; every value is a token, so
    /// none needs quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for param in &self.params {
            write!(f, "; {}", param.name)?;
            if let Some(value) = &param.value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// A cursor over one header value; each method returns `None` when the
/// grammar is broken.
struct Parser<'v> {
    rest: &'v [u8],
}

impl Parser<'_> {
    /// `#extension`, appended to `offers`.
    fn list(&mut self, offers: &mut Vec<ExtensionOffer>) -> Option<()> {
        loop {
            self.skip_ows();
            match self.rest.first() {
                None => return Some(()),
                Some(b',') => self.rest = &self.rest[1..],
                Some(_) => {
                    offers.push(self.extension()?);
                    self.skip_ows();
                    match self.rest.first() {
                        None => return Some(()),
                        Some(b',') => self.rest = &self.rest[1..],
                        Some(_) => return None,
                    }
                }
            }
        }
    }

    /// `extension-token *( ";" extension-param )`.
    fn extension(&mut self) -> Option<ExtensionOffer> {
        let name = self.token()?;
        let mut params = Vec::new();
        loop {
            self.skip_ows();
            if !self.eat(b';') {
                return Some(ExtensionOffer { name, params });
            }
            self.skip_ows();
            let param_name = self.token()?;
            self.skip_ows();
            let value = if self.eat(b'=') {
                self.skip_ows();
                Some(if self.rest.first() == Some(&b'"') {
                    self.quoted_token()?
                } else {
                    self.token()?
                })
            } else {
                None
            };
            params.push(ExtensionParam {
                name: param_name,
                value,
            });
        }
    }

    /// One or more `tchar`s.
    fn token(&mut self) -> Option<String> {
        let len = self.rest.iter().take_while(|&&b| is_tchar(b)).count();
        if len == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(len);
        self.rest = rest;
        // tchars are ASCII.
        std::str::from_utf8(token).ok().map(str::to_owned)
    }

    /// A `quoted-string` (RFC 9110 §5.6.4), unescaped; §9.1 requires the
    /// result to be a token.
    fn quoted_token(&mut self) -> Option<String> {
        let mut unescaped = Vec::new();
        let mut bytes = self.rest[1..].iter();
        loop {
            match *bytes.next()? {
                b'"' => break,
                b'\\' => unescaped.push(*bytes.next()?),
                b => unescaped.push(b),
            }
        }
        self.rest = bytes.as_slice();
        // Every byte allowed in qdtext or a quoted-pair that is not a tchar
        // fails here, so this check also covers the quoted-string grammar.
        is_token(&unescaped)
            .then(|| String::from_utf8(unescaped).ok())
            .flatten()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.rest.first() == Some(&byte);
        if found {
            self.rest = &self.rest[1..];
        }
        found
    }

    /// `OWS` (RFC 9110 §5.6.3): spaces and tabs.
    fn skip_ows(&mut self) {
        while let Some(b' ' | b'\t') = self.rest.first() {
            self.rest = &self.rest[1..];
        }
    }
}
