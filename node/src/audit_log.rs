//! The node's append-only audit log of restricted queries: one JSON line per query
//! (who, which organisation and roles, what, when, and the request signature), written
//! and fsynced before the answer is sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The audit log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Opens (creating if needed) the log at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    /// Appends one entry and syncs it to disk.
    pub fn record(&self, entry: &serde_json::Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = self.file.lock().map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        f.write_all(&line)?;
        f.sync_data()
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
