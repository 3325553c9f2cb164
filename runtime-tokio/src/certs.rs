//! The TLS server certificate: loaded from PEM files, generated self-signed on
//! first run, and swapped without a restart.
//!
//! - **Configured pair** (`tls.certificate`, `tls.private_key`): a chain of
//!   PEM certificates (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
//!   SEC1). At start a missing, unreadable or mismatched file refuses the start
//!   with a message naming the file and the error.
//! - **None configured**: a self-signed certificate whose subject alternative
//!   name is the SIP domain (RFC 5922 §7.2: SIP domain certificates carry the
//!   domain as a dNSName, or the address as an iPAddress) is generated with
//!   rcgen on first run and kept in the data directory (`tls-selfsigned.crt`,
//!   `tls-selfsigned.key`, the key with mode 0600); later runs reuse it. Its
//!   SHA-256 fingerprint (RFC 4572 §5 notation) is logged at start so phones
//!   can pin it.
//! - **Hot swap**: [`CertResolver`] is the server configuration's
//!   `ResolvesServerCert`; it hands every new handshake the current
//!   `Arc<CertifiedKey>`, which [`CertReloader`] replaces atomically. A
//!   handshake that already has the old key keeps it; established connections
//!   never look at the resolver again, so they are untouched. [`watch`] polls
//!   the two files' modification time, size and inode every
//!   [`POLL_INTERVAL`] and reloads on SIGHUP too. A new pair that cannot be read, does
//!   not parse or whose key does not match the certificate is refused with a
//!   warning; the old pair keeps serving (a renewal that writes the
//!   certificate and the key one after the other is picked up once both are
//!   written, at the next poll).

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How often [`watch`] looks at the certificate files.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// File name of the generated certificate in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls-selfsigned.crt";
/// File name of the generated private key in the data directory.
pub const SELF_SIGNED_KEY: &str = "tls-selfsigned.key";

/// The crypto provider every TLS configuration uses (ring; never aws-lc).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads and checks a certificate chain and its key. Errors name the file.
pub fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let cert_pem =
        std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate (\"-----BEGIN CERTIFICATE-----\") in the file",
            cert.display()
        ));
    }
    let key_pem = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    let der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{}: no PEM private key in the file: {e}", key.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("{}: unusable private key: {e}", key.display()))?;
    let ck = CertifiedKey::new(chain, signing);
    match ck.keys_match() {
        Ok(()) => Ok(ck),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(ck),
        Err(e) => Err(format!(
            "{} does not belong to the certificate in {}: {e}",
            key.display(),
            cert.display()
        )),
    }
}

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:…` (RFC 4572 §5).
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(der);
    let mut out = String::with_capacity(95);
    for (i, b) in hash.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// The leaf certificate's fingerprint of `ck`.
pub fn leaf_fingerprint(ck: &CertifiedKey) -> String {
    ck.cert
        .first()
        .map(|c| fingerprint(c.as_ref()))
        .unwrap_or_default()
}

/// The self-signed pair in `data_dir`: reused when both files exist,
/// generated for `domain` otherwise. Returns the two paths and whether they
/// were generated now.
pub fn ensure_self_signed(
    data_dir: &Path,
    domain: &str,
) -> Result<(PathBuf, PathBuf, bool), String> {
    let cert = data_dir.join(SELF_SIGNED_CERT);
    let key = data_dir.join(SELF_SIGNED_KEY);
    if cert.exists() && key.exists() {
        return Ok((cert, key, false));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| {
        format!(
            "cannot create the data directory {}: {e}",
            data_dir.display()
        )
    })?;
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()])
        .map_err(|e| format!("cannot make a certificate for {domain:?}: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, domain);
    let signing =
        rcgen::KeyPair::generate().map_err(|e| format!("cannot generate a TLS key pair: {e}"))?;
    let generated = params
        .self_signed(&signing)
        .map_err(|e| format!("cannot sign the self-signed certificate: {e}"))?;
    write_private(&key, signing.serialize_pem().as_bytes())?;
    std::fs::write(&cert, generated.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert.display()))?;
    Ok((cert, key, true))
}

/// Writes `data` to `path` readable by the owner only (mode 0600).
fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(data)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Hands every new TLS handshake the current certificate.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// A resolver serving `ck`.
    pub fn new(ck: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(ck)),
        }
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the certificate for the handshakes that start from now on.
    pub fn swap(&self, ck: CertifiedKey) {
        let new = Arc::new(ck);
        match self.current.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// What identifies a version of a file: modification time, size, inode.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Reloads the pair from its files into a [`CertResolver`].
#[derive(Debug)]
pub struct CertReloader {
    resolver: Arc<CertResolver>,
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    seen: (Stamp, Stamp),
}

impl CertReloader {
    /// Watches `cert` and `key`, which `resolver` serves right now.
    pub fn new(resolver: Arc<CertResolver>, cert: PathBuf, key: PathBuf) -> Self {
        let seen = (stamp(&cert), stamp(&key));
        Self {
            resolver,
            cert,
            key,
            provider: provider(),
            seen,
        }
    }

    /// Did either file change since the last look (or reload)?
    pub fn changed(&mut self) -> bool {
        let now = (stamp(&self.cert), stamp(&self.key));
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }

    /// Loads the pair again and swaps it in; the new leaf's fingerprint, or
    /// why it was refused (the old pair keeps serving).
    pub fn reload(&mut self) -> Result<String, String> {
        self.seen = (stamp(&self.cert), stamp(&self.key));
        let ck = load_pair(&self.cert, &self.key, &self.provider)?;
        let fp = leaf_fingerprint(&ck);
        self.resolver.swap(ck);
        Ok(fp)
    }

    /// Reloads and logs the outcome; `why` says what triggered it.
    pub fn reload_logged(&mut self, why: &str) {
        let old = leaf_fingerprint(&self.resolver.current());
        match self.reload() {
            Ok(fp) if fp == old => {
                tracing::info!("TLS certificate reloaded ({why}): unchanged, SHA-256 {fp}");
            }
            Ok(fp) => tracing::info!(
                "TLS certificate replaced ({why}): new handshakes get SHA-256 {fp}; open connections keep theirs"
            ),
            Err(e) => tracing::warn!(
                "TLS certificate not replaced ({why}): {e}; still serving SHA-256 {old}"
            ),
        }
    }
}

/// Reloads the certificate whenever its files change (polled every
/// `interval`) or the process gets SIGHUP. Runs until aborted.
pub async fn watch(mut reloader: CertReloader, interval: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP (certificate reload): {e}");
            None
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let hup_recv = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tick.tick() => {
                if reloader.changed() {
                    reloader.reload_logged("the files changed");
                }
            }
            _ = hup_recv => reloader.reload_logged("SIGHUP"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str, domain: &str) -> (PathBuf, PathBuf) {
        let sub = dir.join(name);
        let (c, k, generated) = ensure_self_signed(&sub, domain).expect("generate");
        assert!(generated);
        (c, k)
    }

    #[test]
    fn self_signed_is_generated_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k, generated) = ensure_self_signed(dir.path(), "pbx.example.com").expect("gen");
        assert!(generated);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&k).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by the owner only");
        let first = std::fs::read(&c).expect("cert");
        let (_, _, again) = ensure_self_signed(dir.path(), "pbx.example.com").expect("reuse");
        assert!(!again);
        assert_eq!(
            std::fs::read(&c).expect("cert"),
            first,
            "reused, not regenerated"
        );
        let ck = load_pair(&c, &k, &provider()).expect("loads");
        assert_eq!(leaf_fingerprint(&ck).len(), 95);
        // An address as the domain works too (iPAddress SAN).
        let dir2 = tempfile::tempdir().expect("tempdir");
        ensure_self_signed(dir2.path(), "192.0.2.7").expect("ip domain");
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c1, k1) = pair(dir.path(), "a", "a.example");
        let (_c2, k2) = pair(dir.path(), "b", "b.example");
        let p = provider();
        let missing = dir.path().join("nope.pem");
        let e = load_pair(&missing, &k1, &p).expect_err("missing cert");
        assert!(e.contains("nope.pem") && e.contains("cannot read"), "{e}");
        let e = load_pair(&c1, &missing, &p).expect_err("missing key");
        assert!(e.contains("nope.pem"), "{e}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello\n").expect("write");
        let e = load_pair(&garbage, &k1, &p).expect_err("no cert");
        assert!(
            e.contains("garbage.pem") && e.contains("no certificate"),
            "{e}"
        );
        let e = load_pair(&c1, &garbage, &p).expect_err("no key");
        assert!(e.contains("garbage.pem"), "{e}");
        let e = load_pair(&c1, &k2, &p).expect_err("mismatch");
        assert!(e.contains("does not belong"), "{e}");
        // A truncated PEM certificate is refused, never a panic.
        let text = std::fs::read_to_string(&c1).expect("cert");
        let cut = dir.path().join("cut.pem");
        std::fs::write(&cut, &text[..text.len() / 2]).expect("write");
        assert!(load_pair(&cut, &k1, &p).is_err());
    }

    #[test]
    fn reloader_swaps_good_pairs_and_keeps_the_old_on_bad_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c1, k1) = pair(dir.path(), "a", "a.example");
        let (c2, k2) = pair(dir.path(), "b", "b.example");
        let live_c = dir.path().join("live.crt");
        let live_k = dir.path().join("live.key");
        std::fs::copy(&c1, &live_c).expect("copy");
        std::fs::copy(&k1, &live_k).expect("copy");
        let p = provider();
        let first = load_pair(&live_c, &live_k, &p).expect("first");
        let fp1 = leaf_fingerprint(&first);
        let resolver = Arc::new(CertResolver::new(first));
        let mut r = CertReloader::new(resolver.clone(), live_c.clone(), live_k.clone());
        assert!(!r.changed());
        // Only the certificate is renewed: mismatch, refused, old one serves.
        std::fs::copy(&c2, &live_c).expect("copy");
        assert!(r.changed());
        assert!(r.reload().is_err());
        assert_eq!(leaf_fingerprint(&resolver.current()), fp1);
        assert!(
            !r.changed(),
            "a refused version is not retried until it changes"
        );
        // Then the key: the pair matches, swapped.
        std::fs::write(&live_k, std::fs::read(&k2).expect("k2")).expect("write");
        let fp2 = r.reload().expect("new pair");
        assert_ne!(fp1, fp2);
        assert_eq!(leaf_fingerprint(&resolver.current()), fp2);
        // A deleted file: refused, the new pair keeps serving.
        std::fs::remove_file(&live_c).expect("rm");
        assert!(r.changed());
        let e = r.reload().expect_err("gone");
        assert!(e.contains("live.crt"), "{e}");
        assert_eq!(leaf_fingerprint(&resolver.current()), fp2);
    }

    #[test]
    fn fingerprint_format() {
        let fp = fingerprint(b"");
        assert!(fp.starts_with("E3:B0:C4:42:98:FC"), "{fp}");
        assert_eq!(fp.split(':').count(), 32);
    }
}
