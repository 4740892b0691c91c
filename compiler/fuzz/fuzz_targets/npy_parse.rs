//! Arbitrary bytes as a `.npy`: an array or an error, never a panic or an
//! unbounded allocation. A parsed array must be self-consistent and
//! re-encode to something that parses to the same array.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(array) = mcuc::npy::parse(data) else {
        return;
    };
    assert_eq!(
        array.data.len(),
        array.elements() * array.dtype.size(),
        "parsed array is inconsistent"
    );
    let again = mcuc::npy::parse(&mcuc::npy::encode(&array)).expect("re-encoded array parses");
    assert_eq!(again, array);
});
