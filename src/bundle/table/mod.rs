//! LevelDB-style SSTable as TF's TSL writes it (placeholder; the table lands next).
