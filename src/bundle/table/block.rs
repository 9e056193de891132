//! One block: prefix-compressed entries followed by the restart array.
//!
//! ```text
//! entry*:        varint32 shared | varint32 unshared | varint32 value_len | key[shared..] | value
//! restarts:      u32 LE * num_restarts     (offsets of entries with shared == 0; the first is 0)
//! num_restarts:  u32 LE
//! ```
//! Data blocks restart every 16 entries, the index block at every entry. An empty block is
//! `00000000 01000000`: one restart at 0 and no entries.

use crate::error::{display_key, Error, Result};
use crate::varint;

/// Restart interval of data blocks (TSL `Options::block_restart_interval`).
pub const DATA_RESTART_INTERVAL: usize = 16;
/// Restart interval of the index block: every index key is stored whole.
pub const INDEX_RESTART_INTERVAL: usize = 1;

/// Builds one block exactly as TSL's `BlockBuilder` does.
#[derive(Debug)]
pub struct BlockBuilder {
    interval: usize,
    buffer: Vec<u8>,
    restarts: Vec<u32>,
    counter: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    pub fn new(interval: usize) -> Self {
        BlockBuilder {
            interval: interval.max(1),
            buffer: Vec::new(),
            restarts: vec![0],
            counter: 0,
            last_key: Vec::new(),
        }
    }

    /// True if no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// What the finished block would weigh; TF cuts a data block once this reaches 256 KiB.
    pub fn current_size_estimate(&self) -> usize {
        self.buffer.len() + 4 * self.restarts.len() + 4
    }

    /// Appends an entry. The caller guarantees that keys increase and that key and value lengths
    /// fit in 32 bits; restart offsets stay below the block size plus one entry, so they fit too.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let mut shared = 0;
        if self.counter < self.interval {
            shared = self
                .last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count();
        } else {
            self.restarts
                .push(u32::try_from(self.buffer.len()).unwrap_or(u32::MAX));
            self.counter = 0;
        }
        let unshared = &key[shared..];
        varint::encode_u64(&mut self.buffer, shared as u64);
        varint::encode_u64(&mut self.buffer, unshared.len() as u64);
        varint::encode_u64(&mut self.buffer, value.len() as u64);
        self.buffer.extend_from_slice(unshared);
        self.buffer.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(unshared);
        self.counter += 1;
    }

    /// Appends the restart array and returns the finished block, leaving the builder empty.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buffer);
        out.reserve(4 * self.restarts.len() + 4);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        out
    }
}

/// Parses a block and calls `f(key, value)` for every entry in order.
///
/// Checks what TF's `Block` checks (size, restart count, each entry's lengths) and more: the
/// restart array must start at 0 and point exactly at entries that share nothing with the
/// previous key (TF's binary search relies on that), and keys must strictly increase.
/// `block_offset` is only used in messages.
pub fn parse_block(
    block: &[u8],
    block_offset: u64,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
    let bad_contents = |why: String| {
        Error::corrupt(format!(
            "bad block contents: block at offset {block_offset}: {why}"
        ))
    };
    let size = block.len();
    let count_at = size
        .checked_sub(4)
        .ok_or_else(|| bad_contents(format!("only {size} bytes")))?;
    let num_restarts = read_u32(block, count_at) as usize;
    if num_restarts > count_at / 4 {
        return Err(bad_contents(format!(
            "{num_restarts} restart points do not fit in {size} bytes"
        )));
    }
    let entries_end = count_at - 4 * num_restarts;
    let restart = |i: usize| read_u32(block, entries_end + 4 * i) as usize;
    if num_restarts == 0 {
        if entries_end != 0 {
            return Err(bad_contents("entries but no restart points".into()));
        }
        return Ok(());
    }
    if restart(0) != 0 {
        return Err(bad_contents(format!(
            "first restart point is {}, not 0",
            restart(0)
        )));
    }

    let entries = block.get(..entries_end).unwrap_or(&[]);
    // Two buffers swapped per entry: `prev` is the previous key, `key` the one being rebuilt.
    let mut prev: Vec<u8> = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let mut next_restart = 0usize; // index into the restart array
    while pos < entries_end {
        let bad_entry = |why: &str| {
            Error::corrupt(format!(
                "bad entry in block: block at offset {block_offset}, entry at byte {pos}: {why}"
            ))
        };
        let mut cur = varint::Cursor::new(entries.get(pos..).unwrap_or(&[]));
        let mut field = |name: &str| {
            cur.u32()
                .map(|v| v as usize)
                .map_err(|_| bad_entry(&format!("truncated or oversized varint32 ({name})")))
        };
        let shared = field("shared key length")?;
        let unshared = field("unshared key length")?;
        let value_len = field("value length")?;
        let header = cur.position();
        if shared > prev.len() {
            return Err(bad_entry(&format!(
                "shares {shared} bytes with a previous key of {} bytes",
                prev.len()
            )));
        }
        let avail = entries_end - pos - header;
        let body = unshared.checked_add(value_len).filter(|&b| b <= avail);
        let delta_at = pos + header;
        let (Some(body), Some(delta), Some(value)) = (
            body,
            entries.get(delta_at..delta_at.saturating_add(unshared)),
            body.and_then(|b| entries.get(delta_at + unshared..delta_at + b)),
        ) else {
            return Err(bad_entry(&format!(
                "key delta ({unshared}) + value ({value_len}) run past the restart array \
                 ({avail} bytes left)"
            )));
        };
        if next_restart < num_restarts {
            let r = restart(next_restart);
            if r == pos {
                if shared != 0 {
                    return Err(bad_entry(&format!(
                        "restart point shares {shared} bytes with the previous key"
                    )));
                }
                next_restart += 1;
            } else if r < pos {
                return Err(bad_contents(format!(
                    "restart point {next_restart} ({r}) is not at the start of an entry"
                )));
            }
        }
        key.clear();
        key.extend_from_slice(&prev[..shared]);
        key.extend_from_slice(delta);
        if pos > 0 && key <= prev {
            return Err(bad_entry(&format!(
                "keys not in strictly increasing order: {:?} then {:?}",
                display_key(&prev),
                display_key(&key)
            )));
        }
        f(&key, value)?;
        std::mem::swap(&mut key, &mut prev);
        pos = delta_at + body;
    }
    if next_restart < num_restarts && !(entries_end == 0 && num_restarts == 1) {
        return Err(bad_contents(format!(
            "restart point {next_restart} ({}) is not at the start of an entry",
            restart(next_restart)
        )));
    }
    Ok(())
}

/// Little-endian u32 at `at`; callers have checked that `at + 4 <= block.len()`.
fn read_u32(block: &[u8], at: usize) -> u32 {
    block
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(block: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        parse_block(block, 0, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn empty_block_is_eight_bytes() {
        let mut b = BlockBuilder::new(DATA_RESTART_INTERVAL);
        assert_eq!(b.current_size_estimate(), 8);
        assert_eq!(b.finish(), [0, 0, 0, 0, 1, 0, 0, 0]);
        assert!(entries(&[0, 0, 0, 0, 1, 0, 0, 0]).unwrap().is_empty());
        assert!(entries(&[0, 0, 0, 0]).unwrap().is_empty());
    }

    #[test]
    fn round_trip_with_restarts() {
        let mut b = BlockBuilder::new(DATA_RESTART_INTERVAL);
        let kv: Vec<(Vec<u8>, Vec<u8>)> = (0..40)
            .map(|i| (format!("key{i:03}").into_bytes(), vec![i as u8; i]))
            .collect();
        for (k, v) in &kv {
            b.add(k, v);
        }
        let block = b.finish();
        let n = u32::from_le_bytes(block[block.len() - 4..].try_into().unwrap());
        assert_eq!(n, 3); // entries 0, 16, 32
        assert_eq!(entries(&block).unwrap(), kv);
        assert!(b.is_empty());
    }

    #[test]
    fn index_interval_stores_whole_keys() {
        let mut b = BlockBuilder::new(INDEX_RESTART_INTERVAL);
        b.add(b"abc", b"1");
        b.add(b"abd", b"2");
        let block = b.finish();
        assert_eq!(&block[..10], &[0, 3, 1, b'a', b'b', b'c', b'1', 0, 3, 1]);
        assert_eq!(entries(&block).unwrap().len(), 2);
    }

    fn err(block: &[u8]) -> String {
        entries(block).unwrap_err().to_string()
    }

    #[test]
    fn corrupt_blocks() {
        assert!(err(&[1, 0]).contains("bad block contents"));
        assert!(err(&[0, 0, 0, 0, 2, 0, 0, 0]).contains("do not fit"));
        assert!(err(&[0xff, 0xff, 0xff, 0xff]).contains("do not fit"));
        // Entries but zero restarts.
        assert!(err(&[0, 0, 0, 0, 0, 0, 0]).contains("no restart points"));
        // First restart not 0.
        assert!(err(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]).contains("first restart point"));
        // shared > previous key length.
        let block = [0, 1, 0, b'a', 2, 1, 0, b'b', 0, 0, 0, 0, 1, 0, 0, 0];
        assert!(err(&block).contains("shares 2 bytes"), "{}", err(&block));
        // value runs into the restart array.
        let block = [0, 1, 9, b'a', 0, 0, 0, 0, 1, 0, 0, 0];
        assert!(err(&block).contains("run past the restart array"));
        // Truncated varint at the end of the entries region.
        let block = [0x80, 0, 0, 0, 0, 1, 0, 0, 0];
        assert!(err(&block).contains("varint32"), "{}", err(&block));
        // Keys out of order, equal keys, and a key that is a prefix of its predecessor.
        for block in [
            vec![0, 1, 0, b'b', 0, 1, 0, b'a', 0, 0, 0, 0, 1, 0, 0, 0],
            vec![0, 1, 0, b'b', 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            vec![0, 2, 0, b'b', b'c', 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            vec![0, 2, 0, b'b', b'c', 1, 1, 0, b'c', 0, 0, 0, 0, 1, 0, 0, 0],
        ] {
            assert!(
                err(&block).contains("strictly increasing"),
                "{}",
                err(&block)
            );
        }
        // Restart pointing into the middle of an entry, or past the last entry.
        let block = [
            0, 1, 0, b'a', 0, 1, 0, b'b', 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
        ];
        assert!(err(&block).contains("not at the start of an entry"));
        let block = [0, 1, 0, b'a', 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0];
        assert!(err(&block).contains("not at the start of an entry"));
        // Restart at an entry that shares bytes.
        let block = [
            0, 1, 0, b'a', 1, 1, 0, b'b', 0, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0,
        ];
        assert!(err(&block).contains("restart point shares"));
    }
}
