//! Encoding function-free SavedModels (see the module docs).
