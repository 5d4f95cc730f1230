//! Talking to storage nodes.
