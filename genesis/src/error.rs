//! Errors of the genesis crate.

/// What is wrong with a genesis file or a network specification.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The TOML is malformed, has unknown fields or wrong types.
    #[error("genesis TOML: {0}")]
    Parse(String),
    /// A field breaks a rule.
    #[error("genesis {field}: {reason}")]
    Field {
        /// Where (organisation and field).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Two organisations share a USCC.
    #[error("genesis: USCC {0} is listed twice")]
    DuplicateUscc(String),
    /// A key appears twice.
    #[error(
        "genesis: key {key} appears twice (again at {at}); every admin, member, validator and node key must be distinct"
    )]
    DuplicateKey {
        /// The key.
        key: String,
        /// Where it appears again.
        at: String,
    },
    /// A key file failed.
    #[error(transparent)]
    KeyFile(#[from] crate::keyfile::KeyFileError),
}
