//! The table writer, byte-identical to TSL's `TableBuilder` with the options bundles use
//! (256 KiB blocks, restart interval 16, no compression).

use super::block::{BlockBuilder, DATA_RESTART_INTERVAL, INDEX_RESTART_INTERVAL};
use super::format::{block_trailer, BlockHandle, Footer, NO_COMPRESSION};
use super::BLOCK_SIZE;
use crate::error::{display_key, Error, Result};

/// Builds an SSTable in memory. Keys must be added in strictly increasing bytewise order.
///
/// ```
/// use kerasave::bundle::table::{read_table, TableBuilder};
/// let mut t = TableBuilder::new();
/// t.add(b"", b"header").unwrap();
/// t.add(b"w", b"entry").unwrap();
/// let bytes = t.finish();
/// assert_eq!(read_table(&bytes).unwrap().len(), 2);
/// ```
#[derive(Debug)]
pub struct TableBuilder {
    out: Vec<u8>,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    last_key: Vec<u8>,
    num_entries: u64,
    /// The handle of the data block just written, whose index entry waits for the next key so
    /// that the separator can be short.
    pending_handle: Option<BlockHandle>,
}

impl Default for TableBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TableBuilder {
    pub fn new() -> Self {
        TableBuilder {
            out: Vec::new(),
            data_block: BlockBuilder::new(DATA_RESTART_INTERVAL),
            index_block: BlockBuilder::new(INDEX_RESTART_INTERVAL),
            last_key: Vec::new(),
            num_entries: 0,
            pending_handle: None,
        }
    }

    /// Number of entries added so far.
    pub fn num_entries(&self) -> u64 {
        self.num_entries
    }

    /// Adds an entry. Keys must be strictly increasing (bytewise), else
    /// [`Error::InvalidArgument`]; keys and values are limited to 4 GiB each (LevelDB stores
    /// their lengths as varint32).
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.num_entries > 0 && key <= self.last_key.as_slice() {
            return Err(Error::InvalidArgument(format!(
                "table keys must be strictly increasing: {:?} after {:?}",
                display_key(key),
                display_key(&self.last_key)
            )));
        }
        if u32::try_from(key.len()).is_err() || u32::try_from(value.len()).is_err() {
            return Err(Error::InvalidArgument(format!(
                "table entry too large (key {} bytes, value {} bytes; at most 4 GiB each)",
                key.len(),
                value.len()
            )));
        }
        // An entry of twice the block size or more gets a block of its own.
        if self.num_entries > 0 && key.len() + value.len() >= 2 * BLOCK_SIZE {
            self.flush();
        }
        if let Some(handle) = self.pending_handle.take() {
            find_shortest_separator(&mut self.last_key, key);
            self.add_index_entry(handle);
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.num_entries += 1;
        self.data_block.add(key, value);
        if self.data_block.current_size_estimate() >= BLOCK_SIZE {
            self.flush();
        }
        Ok(())
    }

    /// Writes the last data block, the empty metaindex block, the index block and the footer,
    /// and returns the whole file.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush();
        let mut empty = BlockBuilder::new(DATA_RESTART_INTERVAL);
        let metaindex = self.write_block(empty.finish());
        if let Some(handle) = self.pending_handle.take() {
            find_short_successor(&mut self.last_key);
            self.add_index_entry(handle);
        }
        let index_contents = self.index_block.finish();
        let index = self.write_block(index_contents);
        let footer = Footer { metaindex, index };
        self.out.extend_from_slice(&footer.encode());
        self.out
    }

    fn add_index_entry(&mut self, handle: BlockHandle) {
        let mut encoded = Vec::with_capacity(20);
        handle.encode_to(&mut encoded);
        self.index_block.add(&self.last_key, &encoded);
    }

    fn flush(&mut self) {
        if self.data_block.is_empty() {
            return;
        }
        let contents = self.data_block.finish();
        self.pending_handle = Some(self.write_block(contents));
    }

    fn write_block(&mut self, contents: Vec<u8>) -> BlockHandle {
        let handle = BlockHandle {
            offset: self.out.len() as u64,
            size: contents.len() as u64,
        };
        self.out.extend_from_slice(&contents);
        self.out
            .extend_from_slice(&block_trailer(&contents, NO_COMPRESSION));
        handle
    }
}

/// Shortens `start` to a key in `[start, limit)` (LevelDB's bytewise comparator): increments
/// the first differing byte when that keeps it below `limit`, else leaves `start` alone.
pub fn find_shortest_separator(start: &mut Vec<u8>, limit: &[u8]) {
    let diff = start.iter().zip(limit).take_while(|(a, b)| a == b).count();
    if diff >= start.len().min(limit.len()) {
        return; // one is a prefix of the other
    }
    if let (Some(&s), Some(&l)) = (start.get(diff), limit.get(diff)) {
        if s < 0xff && s + 1 < l {
            start[diff] = s + 1;
            start.truncate(diff + 1);
        }
    }
}

/// Shortens `key` to a short key `>= key`: the first non-0xff byte incremented, the rest dropped.
/// A key of only 0xff bytes is left as is.
pub fn find_short_successor(key: &mut Vec<u8>) {
    if let Some(i) = key.iter().position(|&b| b != 0xff) {
        key[i] += 1;
        key.truncate(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sep(start: &[u8], limit: &[u8]) -> Vec<u8> {
        let mut s = start.to_vec();
        find_shortest_separator(&mut s, limit);
        assert!(s.as_slice() >= start && s.as_slice() < limit, "{s:?}");
        s
    }

    fn succ(key: &[u8]) -> Vec<u8> {
        let mut k = key.to_vec();
        find_short_successor(&mut k);
        k
    }

    #[test]
    fn separators() {
        assert_eq!(sep(b"the quick brown fox", b"the who"), b"the r");
        assert_eq!(sep(b"abc", b"abcd"), b"abc"); // prefix: unchanged
        assert_eq!(sep(b"", b"a"), b"");
        assert_eq!(sep(b"abc", b"abd"), b"abc"); // +1 would equal limit's byte
        assert_eq!(sep(b"ab\xff", b"ac"), b"ab\xff"); // 'b'+1 == 'c'
        assert_eq!(sep(b"a\xffz", b"b"), b"a\xffz"); // 'a'+1 == 'b'
        assert_eq!(sep(b"a\xffz", b"c"), b"b");
        assert_eq!(sep(b"\xff\x01", b"\xff\x03"), b"\xff\x02");
        assert_eq!(sep(b"\xfe", b"\xff"), b"\xfe");
        assert_eq!(sep(b"v05999", b"v06000"), b"v05999"); // '5'+1 == '6'
        assert_eq!(sep(b"v05999", b"v07000"), b"v06");
    }

    #[test]
    fn successors() {
        assert_eq!(succ(b"plain"), b"q");
        assert_eq!(succ(b"x....y.S.Sz/..."), b"y");
        assert_eq!(succ(b"\xff\xffa"), b"\xff\xffb");
        assert_eq!(succ(b"\xff\xff"), b"\xff\xff");
        assert_eq!(succ(b""), b"");
        assert_eq!(succ(b"w"), b"x");
    }

    #[test]
    fn rejects_bad_order() {
        let mut t = TableBuilder::new();
        t.add(b"", b"h").unwrap();
        assert!(matches!(t.add(b"", b"h"), Err(Error::InvalidArgument(_))));
        t.add(b"b", b"").unwrap();
        assert!(matches!(t.add(b"a", b""), Err(Error::InvalidArgument(_))));
        assert!(matches!(t.add(b"b", b""), Err(Error::InvalidArgument(_))));
        t.add(b"b\x00", b"").unwrap();
        assert_eq!(t.num_entries(), 3);
    }
}
