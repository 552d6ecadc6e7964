//! # jialing-genesis
//!
//! The consortium definition: the genesis file (organisations, keys, roles,
//! validators, parameters) and its validation ([`file`]), the embedded sample
//! consortium ([`sample`]), a generator for fresh local networks ([`network`]), and the
//! key-file format shared by the node and the client ([`keyfile`]).

pub mod error;
pub mod file;
pub mod keyfile;
pub mod network;
pub mod sample;
pub mod time;

pub use error::GenesisError;
pub use file::Genesis;
pub use network::{GeneratedNetwork, NetworkLayout, NetworkSpec, NodeLayout, generate};
pub use sample::{
    SAMPLE_TOML, sample, sample_genesis, sample_key, sample_uscc, sample_validator_keys, write_sample_keys,
};
