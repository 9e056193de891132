//! `_CHECKPOINTABLE_OBJECT_GRAPH` and checkpoint keys (placeholder).
