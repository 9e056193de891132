//! `read_table` on arbitrary bytes: every input gives entries or an error, never a panic, a hang
//! or an allocation sized by the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = kerasave::bundle::table::read_table(data) {
        // The contract: keys come back strictly increasing.
        for pair in entries.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "read_table returned keys out of order"
            );
        }
    }
});
