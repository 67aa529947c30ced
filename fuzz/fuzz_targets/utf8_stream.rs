#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| utf8stream::fuzzing::utf8_stream(data));
