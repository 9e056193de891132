//! Whole-table parsing with every check that can be made without knowing what the values mean.

use super::block::parse_block;
use super::format::{read_block, BlockHandle, Footer, FOOTER_LEN};
use crate::error::{display_key, Error, Result};

/// Decoded keys and values may take at most this many bytes per byte of input, or
/// [`MIN_OUTPUT_BUDGET`] if that is more. Prefix compression lets a 4-byte entry stand for a key
/// of any length already seen, so without a cap a small hostile file could expand to terabytes;
/// real bundle indexes expand by well under 10x.
const OUTPUT_PER_INPUT_BYTE: usize = 64;
const MIN_OUTPUT_BUDGET: usize = 64 << 20;
/// What one returned entry costs beyond its bytes (two `Vec` headers), for the budget.
const ENTRY_OVERHEAD: usize = 48;

/// Parses a whole table and returns its entries in key order.
///
/// Checks the footer magic, every block's masked CRC32C (the metaindex block too, although TF
/// never reads it: a damaged byte anywhere means a damaged file), restart arrays, entry bounds,
/// block handles, strictly increasing keys across the whole table, and that each index key
/// separates its data block from the next one (TF's seeks depend on it). Accepts Snappy
/// blocks. Errors are [`Error::Corrupt`] without a file; the caller attaches it.
pub fn read_table(bytes: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let footer = Footer::decode(bytes)?;
    let blocks_end = bytes.len() - FOOTER_LEN; // decode checked len >= FOOTER_LEN
    let mut budget = MIN_OUTPUT_BUDGET.max(bytes.len().saturating_mul(OUTPUT_PER_INPUT_BYTE));

    let metaindex = read_block(bytes, footer.metaindex, blocks_end)?;
    charge(&mut budget, metaindex.len())?;
    parse_block(&metaindex, footer.metaindex.offset, |_, _| Ok(()))?;

    let index = read_block(bytes, footer.index, blocks_end)?;
    charge(&mut budget, index.len())?;
    let mut handles: Vec<(Vec<u8>, BlockHandle)> = Vec::new();
    parse_block(&index, footer.index.offset, |key, value| {
        let (handle, _) = BlockHandle::decode(value).map_err(|e| match e {
            Error::Corrupt { detail, .. } => Error::corrupt(format!(
                "{detail} (index entry {:?} in block at offset {})",
                display_key(key),
                footer.index.offset
            )),
            other => other,
        })?;
        charge(&mut budget, key.len() + ENTRY_OVERHEAD)?;
        handles.push((key.to_vec(), handle));
        Ok(())
    })?;

    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut prev_index_key: Option<&[u8]> = None;
    for (index_key, handle) in &handles {
        let block = read_block(bytes, *handle, blocks_end)?;
        charge(
            &mut budget,
            if matches!(block, std::borrow::Cow::Owned(_)) {
                block.len()
            } else {
                0
            },
        )?;
        let first_in_block = entries.len();
        parse_block(&block, handle.offset, |key, value| {
            if let Some((last, _)) = entries.last() {
                if key <= last.as_slice() {
                    return Err(Error::corrupt(format!(
                        "keys not in strictly increasing order: {:?} then {:?} (data block at \
                         offset {})",
                        display_key(last),
                        display_key(key),
                        handle.offset
                    )));
                }
            }
            if entries.len() == first_in_block {
                if let Some(sep) = prev_index_key.filter(|sep| key <= *sep) {
                    return Err(misplaced(sep, handle, key));
                }
            }
            charge(&mut budget, key.len() + value.len() + ENTRY_OVERHEAD)?;
            entries.push((key.to_vec(), value.to_vec()));
            Ok(())
        })?;
        if let Some((last, _)) = entries.get(first_in_block..).and_then(|e| e.last()) {
            if last.as_slice() > index_key.as_slice() {
                return Err(misplaced(index_key, handle, last));
            }
        }
        prev_index_key = Some(index_key);
    }
    Ok(entries)
}

fn misplaced(index_key: &[u8], handle: &BlockHandle, key: &[u8]) -> Error {
    Error::corrupt(format!(
        "index key {:?} does not separate the data blocks around offset {}: key {:?} is on the \
         wrong side",
        display_key(index_key),
        handle.offset,
        display_key(key)
    ))
}

fn charge(budget: &mut usize, n: usize) -> Result<()> {
    *budget = budget.checked_sub(n).ok_or_else(|| {
        Error::corrupt(
            "table expands to far more keys and values than its size allows (corrupt or hostile \
             prefix compression)",
        )
    })?;
    Ok(())
}
