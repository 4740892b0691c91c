//! Arbitrary bytes as a `.tflite` (see `exercise::tflite`).

#![no_main]

mod exercise;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| exercise::tflite(data));
