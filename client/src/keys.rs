//! Keys for the CLI and SDK: key files, member keys given as hex or as a key file,
//! role lists and expiry times.

use std::path::Path;

use jialing_core::{Keypair, PublicKey, Role};
use jialing_genesis::keyfile;

use crate::error::ClientError;

/// Reads a key file (checks the public key against the seed).
pub fn load(path: &Path) -> Result<Keypair, ClientError> {
    Ok(keyfile::read(path)?)
}

/// Generates a fresh key and writes it to `path` (never overwrites); returns it.
pub fn create(path: &Path, label: &str) -> Result<Keypair, ClientError> {
    let key = Keypair::generate();
    keyfile::write(path, &key, label)?;
    Ok(key)
}

/// Reads the public part of a key file without needing it to be readable as a key
/// for signing (the check against the seed still runs).
pub fn show(path: &Path) -> Result<keyfile::KeyFile, ClientError> {
    let key = keyfile::read(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| ClientError::Io { path: path.to_path_buf(), source })?;
    let file: keyfile::KeyFile = serde_json::from_str(&text)
        .map_err(|e| ClientError::Args(format!("key file {} is malformed: {e}", path.display())))?;
    debug_assert_eq!(file.public_key, key.public());
    Ok(file)
}

/// A member key given as 64 hex digits or as the path of a key file.
pub fn parse_member(s: &str) -> Result<PublicKey, ClientError> {
    if let Ok(k) = s.parse::<PublicKey>() {
        return Ok(k);
    }
    let path = Path::new(s);
    if path.is_file() {
        return Ok(load(path)?.public());
    }
    Err(ClientError::Args(format!("--member {s:?} is neither a public key (64 hex digits) nor an existing key file")))
}

/// A comma-separated role list (`producer,inspector`), deduplicated, in order.
pub fn parse_roles(s: &str) -> Result<Vec<Role>, ClientError> {
    let mut roles = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let r: Role = part.parse().map_err(|e: jialing_core::CoreError| ClientError::Args(format!("--roles: {e}")))?;
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    if roles.is_empty() {
        return Err(ClientError::Args("--roles must name at least one role, e.g. --roles producer,inspector".into()));
    }
    Ok(roles)
}

/// Parses a UTC time `2027-12-31T00:00:00Z` (fractions allowed) or a date `2027-12-31`
/// (midnight UTC) into ms since the Unix epoch.
pub fn parse_utc_ms(s: &str) -> Result<u64, ClientError> {
    let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.to_string() };
    jialing_core::calendar::parse_rfc3339_utc(&full).map_err(|_| {
        ClientError::Args(format!("time {s:?} is not valid; write it as UTC like 2027-12-31T00:00:00Z or 2027-12-31"))
    })
}

/// Formats ms since the Unix epoch as `2027-12-31T00:00:00.000Z`.
pub fn format_utc_ms(ms: u64) -> String {
    jialing_core::calendar::format_rfc3339_ms(ms)
}

/// The expiry in ms from `--expires TIME` or `--days N` (from now, by this machine's clock).
pub fn expiry_ms(expires: Option<&str>, days: Option<u64>) -> Result<u64, ClientError> {
    match (expires, days) {
        (Some(t), None) => parse_utc_ms(t),
        (None, Some(n)) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| ClientError::Args("this machine's clock is before 1970".into()))?;
            let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
            Ok(now_ms.saturating_add(n.saturating_mul(86_400_000)))
        }
        _ => Err(ClientError::Args("give exactly one of --expires TIME or --days N".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_parse_and_format() {
        assert_eq!(parse_utc_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_utc_ms("2027-12-31T00:00:00Z").unwrap(), 1_830_211_200_000);
        assert_eq!(parse_utc_ms("2027-12-31").unwrap(), 1_830_211_200_000);
        assert_eq!(parse_utc_ms("2024-02-29T12:34:56.789Z").unwrap(), 1_709_210_096_789);
        assert_eq!(format_utc_ms(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        for bad in ["2027-02-30", "2027-13-01", "2027-12-31T00:00:00", "tomorrow", "2027-12-31T25:00:00Z", ""] {
            let e = parse_utc_ms(bad).unwrap_err().to_string();
            assert!(e.contains("2027-12-31T00:00:00Z"), "{bad}: {e}");
        }
    }

    #[test]
    fn roles_parse_with_a_clear_error() {
        assert_eq!(parse_roles("producer, inspector,producer").unwrap(), vec![Role::Producer, Role::Inspector]);
        let e = parse_roles("producer,farmer").unwrap_err().to_string();
        assert!(e.contains("farmer") && e.contains("known roles"), "{e}");
        assert!(parse_roles(" , ").is_err());
    }

    #[test]
    fn member_is_hex_or_key_file() {
        let k = Keypair::from_label("m");
        assert_eq!(parse_member(&k.public().to_hex()).unwrap(), k.public());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        keyfile::write(&p, &k, "m").unwrap();
        assert_eq!(parse_member(p.to_str().unwrap()).unwrap(), k.public());
        assert!(parse_member("nope").unwrap_err().to_string().contains("neither"));
    }

    #[test]
    fn expiry_needs_exactly_one_source() {
        assert!(expiry_ms(None, None).is_err());
        assert!(expiry_ms(Some("2027-12-31"), Some(3)).is_err());
        assert!(expiry_ms(None, Some(1)).unwrap() > 1_700_000_000_000);
    }
}
