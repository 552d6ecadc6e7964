//! Key files: one ed25519 key per JSON file, readable only by its owner.
//!
//! ```json
//! { "public_key": "<64 hex>", "secret_seed": "<64 hex>", "label": "farm operator" }
//! ```
//! The public key is stored for humans and checked against the seed on load, so a
//! corrupted or hand-edited file is refused instead of silently signing as someone else.

use std::path::{Path, PathBuf};

use jialing_core::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

/// Errors reading or writing key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not a valid key file.
    #[error("key file {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Refusing to overwrite an existing key.
    #[error("key file {0} already exists; refusing to overwrite a key (move it away first)")]
    Exists(PathBuf),
}

/// The JSON content of a key file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The public key (hex).
    pub public_key: PublicKey,
    /// The 32-byte secret seed (hex). Keep it secret.
    pub secret_seed: String,
    /// A human label.
    #[serde(default)]
    pub label: String,
}

/// Writes `key` to `path` (mode 0600 on Unix); refuses to overwrite.
pub fn write(path: &Path, key: &Keypair, label: &str) -> Result<(), KeyFileError> {
    if path.exists() {
        return Err(KeyFileError::Exists(path.to_path_buf()));
    }
    let io = |source| KeyFileError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = KeyFile { public_key: key.public(), secret_seed: hex::encode(key.seed()), label: label.to_string() };
    let text = serde_json::to_string_pretty(&file)
        .map_err(|e| KeyFileError::Malformed { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads a key file and checks the public key matches the seed.
pub fn read(path: &Path) -> Result<Keypair, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Parses key-file text (`path` is only used in error messages).
pub fn parse(path: &Path, text: &str) -> Result<Keypair, KeyFileError> {
    let bad = |reason: String| KeyFileError::Malformed { path: path.to_path_buf(), reason };
    let file: KeyFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(file.secret_seed.trim(), &mut seed)
        .map_err(|e| bad(format!("secret_seed must be 64 hex digits: {e}")))?;
    let key = Keypair::from_seed(seed);
    if key.public() != file.public_key {
        return Err(bad(format!(
            "public_key {} does not match the secret seed (which gives {})",
            file.public_key,
            key.public()
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_round_trip_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.json");
        let k = Keypair::from_label("x");
        write(&p, &k, "test").unwrap();
        assert_eq!(read(&p).unwrap().public(), k.public());
        assert!(matches!(write(&p, &k, "again"), Err(KeyFileError::Exists(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn mismatched_public_key_is_refused() {
        let k = Keypair::from_label("x");
        let other = Keypair::from_label("y");
        let text = format!(r#"{{"public_key":"{}","secret_seed":"{}"}}"#, other.public(), hex::encode(k.seed()));
        let err = parse(Path::new("k.json"), &text).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
        assert!(parse(Path::new("k.json"), "{}").is_err());
    }
}
