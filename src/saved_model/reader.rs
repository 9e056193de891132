//! Decoding SavedModel directories (see the module docs).
