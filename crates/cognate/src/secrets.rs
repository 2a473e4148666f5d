//! Secrets kept in the data directory: files created with mode 0600 and
//! never printed.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cognate_core::ids;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot use the secrets file {path}: {message}")]
    File { path: PathBuf, message: String },
}

#[derive(Serialize, Deserialize)]
struct StoredAdminKey {
    access_key_id: String,
    secret_access_key: String,
}

pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials.json";

/// The admin key stored in `data_dir`, generated on first use. Returns the
/// key and whether it was generated now.
pub fn admin_key(data_dir: &Path) -> Result<((String, String), bool), SecretError> {
    let path = data_dir.join(ADMIN_CREDENTIALS_FILE);
    let err = |message: String| SecretError::File {
        path: path.clone(),
        message,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: StoredAdminKey =
                serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))?;
            Ok(((stored.access_key_id, stored.secret_access_key), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let stored = StoredAdminKey {
                access_key_id: ids::unique_id("AKIA", 20).map_err(|e| err(e.to_string()))?,
                secret_access_key: ids::secret_access_key().map_err(|e| err(e.to_string()))?,
            };
            let text = serde_json::to_string_pretty(&stored).map_err(|e| err(e.to_string()))?;
            write_private(&path, text.as_bytes()).map_err(|e| err(e.to_string()))?;
            Ok(((stored.access_key_id, stored.secret_access_key), true))
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// Creates a file readable by its owner only; fails if it exists.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

pub const MASTER_KEY_FILE: &str = "master.key";

/// The master key: `COGNATE_MASTER_KEY` (64 hex digits) if given, else the
/// key file in the data directory, created on first start.
pub fn master_key(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(text) = configured {
        return decode_master_key(text.trim()).ok_or_else(|| SecretError::File {
            path: PathBuf::from("COGNATE_MASTER_KEY"),
            message: "must be 64 hexadecimal digits (32 bytes)".into(),
        });
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    let err = |message: String| SecretError::File {
        path: path.clone(),
        message,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_master_key(text.trim())
            .ok_or_else(|| err("must hold 64 hexadecimal digits".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = ids::random_bytes(32).map_err(|e| err(e.to_string()))?;
            let text = format!("{}\n", hex_encode(&key));
            write_private(&path, text.as_bytes()).map_err(|e| err(e.to_string()))?;
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

fn decode_master_key(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
