//! `Config::parse` over arbitrary text: it may reject, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = greenlight_core::config::Config::parse(text);
    }
});
