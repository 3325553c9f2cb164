//! Encryption at rest of the destination passwords (issue 4): a next hop's
//! digest password (RFC 3261 §22.3, answering its 401/407) must be usable in
//! clear by the server, so it cannot be stored as an HA1 like an extension's;
//! it is encrypted instead.
//!
//! - Cipher: AES-256-GCM (NIST SP 800-38D) from the `aes-gcm` crate, a fresh
//!   random 96-bit nonce per value (§8.2.2), the destination's name as
//!   associated data so a value copied onto another row does not decrypt.
//! - Stored value: `nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! - Key: 32 random bytes in `<data_dir>/secret.key` (beside the database),
//!   created with mode 0600 the first time a password is stored. Back it up
//!   with the database: without it the stored passwords cannot be read, and a
//!   missing key while encrypted passwords exist is an error naming the file
//!   (never a silently new key that would orphan them).

use crate::error::StorageError;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secret.key";

/// Key length (AES-256).
const KEY_LEN: usize = 32;
/// Nonce length (96 bits, GCM's recommended size).
const NONCE_LEN: usize = 12;
/// Authentication tag length.
const TAG_LEN: usize = 16;

/// The key file for the database at `db_path`: `secret.key` in its directory.
pub(crate) fn key_path(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join(KEY_FILE)
}

/// A loaded key.
pub(crate) struct SecretKey {
    cipher: Aes256Gcm,
    path: PathBuf,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn key_error(path: &Path, cause: impl Into<String>) -> StorageError {
    StorageError::SecretKey {
        path: path.to_path_buf(),
        cause: cause.into(),
    }
}

impl SecretKey {
    /// Reads the key at `path`; `Ok(None)` when the file does not exist.
    pub(crate) fn load(path: &Path) -> Result<Option<Self>, StorageError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(key_error(path, format!("cannot read it: {e}"))),
        };
        if bytes.len() != KEY_LEN {
            return Err(key_error(
                path,
                format!(
                    "it holds {} bytes, not the {KEY_LEN} of an AES-256 key",
                    bytes.len()
                ),
            ));
        }
        Ok(Some(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            path: path.to_path_buf(),
        }))
    }

    /// Creates a new random key at `path` (mode 0600); when another process
    /// created it first, loads that one.
    pub(crate) fn create(path: &Path) -> Result<Self, StorageError> {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(path) {
            Ok(mut f) => {
                f.write_all(key.as_slice())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| key_error(path, format!("cannot write it: {e}")))?;
                Ok(Self {
                    cipher: Aes256Gcm::new(&key),
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path)?.ok_or_else(|| key_error(path, "it vanished while being created"))
            }
            Err(e) => Err(key_error(path, format!("cannot create it: {e}"))),
        }
    }

    /// Encrypts `plain` for the destination `name`.
    pub(crate) fn encrypt(&self, name: &str, plain: &str) -> Result<Vec<u8>, StorageError> {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| key_error(&self.path, "encryption failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts the stored value of the destination `name`.
    pub(crate) fn decrypt(&self, name: &str, stored: &[u8]) -> Result<String, StorageError> {
        if stored.len() < NONCE_LEN + TAG_LEN {
            return Err(key_error(
                &self.path,
                format!(
                    "the stored password of destination {name:?} is truncated ({} bytes)",
                    stored.len()
                ),
            ));
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| {
                key_error(
                    &self.path,
                    format!(
                        "it does not decrypt the password of destination {name:?} \
                         (a different key than the one it was stored with, or a damaged value)"
                    ),
                )
            })?;
        String::from_utf8(plain).map_err(|_| {
            key_error(
                &self.path,
                format!("the password of destination {name:?} decrypts to invalid UTF-8"),
            )
        })
    }
}

/// The error for a missing key file while `count` passwords need it.
pub(crate) fn missing(path: &Path, count: u64) -> StorageError {
    key_error(
        path,
        format!(
            "the file is missing but {count} destination password(s) in the database are \
             encrypted with it; restore it from a backup (or remove those destinations)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_fresh_nonces_and_bound_to_the_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(KEY_FILE);
        assert!(SecretKey::load(&path).expect("load").is_none());
        let key = SecretKey::create(&path).expect("create");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).expect("read").len(), KEY_LEN);
        let a = key.encrypt("carrier", "s3cret").expect("enc");
        let b = key.encrypt("carrier", "s3cret").expect("enc");
        assert_ne!(a, b, "a fresh nonce per value");
        assert_eq!(a.len(), NONCE_LEN + 6 + TAG_LEN);
        assert_eq!(key.decrypt("carrier", &a).expect("dec"), "s3cret");
        let e = key.decrypt("other", &a).expect_err("bound to the name");
        assert!(e.to_string().contains("secret.key"), "{e}");
        let e = key.decrypt("carrier", &a[..10]).expect_err("truncated");
        assert!(e.to_string().contains("truncated"), "{e}");
        // Creating again loads the existing key.
        let again = SecretKey::create(&path).expect("exists");
        assert_eq!(again.decrypt("carrier", &b).expect("dec"), "s3cret");
    }

    #[test]
    fn a_malformed_key_file_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, b"short").expect("write");
        let e = SecretKey::load(&path).expect_err("short key");
        assert!(e.to_string().contains("secret.key"), "{e}");
        assert!(e.to_string().contains("5 bytes"), "{e}");
        assert_eq!(key_path(Path::new("sb.db")), Path::new("./secret.key"));
        assert_eq!(
            key_path(Path::new("/x/data/sb.db")),
            Path::new("/x/data/secret.key")
        );
    }
}
