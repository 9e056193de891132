//! `naming::decode_slice_key` on arbitrary bytes; whatever decodes must re-encode to the same key.
#![no_main]

use kerasave::bundle::naming::{decode_slice_key, encode_slice_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((name, extents)) = decode_slice_key(data) {
        let again = encode_slice_key(&name, &extents);
        assert_eq!(
            decode_slice_key(&again).ok(),
            Some((name, extents)),
            "re-encode round trip"
        );
    }
});
