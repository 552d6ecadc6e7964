//! # jialing-genesis
//!
//! The consortium definition: the genesis file (organisations, keys, roles,
//! validators, parameters), its validation, the embedded sample consortium, a generator
//! for fresh local networks, and the key-file format shared by the node and the client.

pub mod keyfile;
