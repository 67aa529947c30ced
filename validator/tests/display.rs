//! The error's text says what is wrong and where.

use utf8stream::Utf8Validator;

#[test]
fn display_names_the_offset_and_the_kind_of_error() {
    let err = utf8stream::validate(b"abc\xFF").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid UTF-8: 1 byte(s) at offset 3 cannot start or continue a code point"
    );
    let mut v = Utf8Validator::new();
    v.feed(b"ab\xE2\x82").unwrap();
    let err = v.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid UTF-8: the text ends inside a code point that starts at offset 2"
    );
    let _: &dyn std::error::Error = &err;
}
