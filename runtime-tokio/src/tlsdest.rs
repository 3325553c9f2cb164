//! Per-destination TLS client settings (issue 5): outbound TLS to a routing
//! destination verifies the peer (RFC 5922 §7, against `tls.ca_file` or the
//! system roots) unless the destination says `--tls-verify no` (labs only),
//! and presents a client certificate when it has one (mutual TLS: RFC 8446
//! §4.4.2, RFC 5246 §7.4.6; RFC 5922 §7.3 for SIP).
//!
//! The core tells which destination a connect is for
//! ([`switchboard_core::TlsPeer`] on `Output::Connect`); this module turns
//! that into a [`ClientConfig`]:
//!
//! - Configurations are cached per (verify, certificate path, key path), at
//!   most [`MAX_CONFIGS`] of them (the cache is emptied when full). A cached
//!   client certificate is reloaded when its files change (modification time
//!   or size), so a renewed certificate reaches the next connection.
//! - A pair that cannot be read or does not match is an error naming the
//!   file: the connect fails, the engine sees the connection close and the
//!   call fails over to the next route.
//! - "Do not verify" still checks the handshake signatures (the peer must hold
//!   the key of the certificate it sent) but accepts any certificate: the peer
//!   is not authenticated. A warning names each such destination once
//!   ([`warn_unverified`]).

use crate::certs::{self, provider};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use switchboard_core::routing::RoutingConfig;
use switchboard_core::{TlsPeer, Transport};

/// Most distinct client configurations kept.
pub const MAX_CONFIGS: usize = 64;

/// Accepts any server certificate (for `--tls-verify no`, and for test and
/// bench clients of a server with a self-signed certificate); the handshake
/// signatures are still verified with the provider's algorithms. The peer is
/// NOT authenticated: never use it where a certificate matters.
#[derive(Debug)]
pub struct AcceptAnyCertificate(pub Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What identifies a client configuration.
type Key = (bool, Option<String>, Option<String>);

/// A file's modification time and size (a change means reload).
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &str) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())))
}

/// A cached configuration with the stamps of its client certificate files.
type Cached = (Stamp, Stamp, Arc<ClientConfig>);

/// Client configurations by destination options, built on first use.
#[derive(Debug)]
pub struct ClientConfigs {
    roots: Arc<RootCertStore>,
    cache: Mutex<BTreeMap<Key, Cached>>,
}

impl ClientConfigs {
    /// Configurations verifying against `roots` (`tls.ca_file` or the system's).
    pub fn new(roots: RootCertStore) -> Self {
        Self {
            roots: Arc::new(roots),
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The configuration for `peer`'s options (cached). Errors name the file.
    pub fn get(&self, peer: &TlsPeer) -> Result<Arc<ClientConfig>, String> {
        let key: Key = (
            peer.verify,
            peer.client_cert.clone(),
            peer.client_key.clone(),
        );
        let stamps = (
            peer.client_cert.as_deref().and_then(stamp),
            peer.client_key.as_deref().and_then(stamp),
        );
        if let Ok(cache) = self.cache.lock()
            && let Some((c, k, cfg)) = cache.get(&key)
            && (*c, *k) == stamps
        {
            return Ok(cfg.clone());
        }
        let cfg = Arc::new(self.build(peer)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CONFIGS && !cache.contains_key(&key) {
                cache.clear();
            }
            cache.insert(key, (stamps.0, stamps.1, cfg.clone()));
        }
        Ok(cfg)
    }

    fn build(&self, peer: &TlsPeer) -> Result<ClientConfig, String> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(crate::tls::VERSIONS)
            .map_err(|e| format!("TLS configuration: {e}"))?;
        let builder = if peer.verify {
            builder.with_root_certificates(self.roots.clone())
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider.clone())))
        };
        Ok(match (&peer.client_cert, &peer.client_key) {
            (Some(cert), Some(key)) => {
                let ck = certs::load_pair(Path::new(cert), Path::new(key), &provider)
                    .map_err(|e| format!("TLS client certificate: {e}"))?;
                builder
                    .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(ck)))
            }
            _ => builder.with_no_client_auth(),
        })
    }
}

/// Destinations already warned about.
static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The destinations (name, gateway) of `cfg` whose TLS peer is not verified.
pub fn unverified(cfg: &RoutingConfig) -> Vec<(String, String)> {
    cfg.destinations
        .iter()
        .filter(|d| d.enabled && d.transport == Transport::Tls && !d.tls_verify)
        .map(|d| (d.name.clone(), d.gateway.clone()))
        .collect()
}

/// Warns once per destination (by name, for the process's life) that its TLS
/// peer is not verified ([`unverified`]). Call whenever a routing
/// configuration is put in force.
pub fn warn_unverified(list: &[(String, String)]) {
    let Ok(mut warned) = WARNED.lock() else {
        return;
    };
    for (name, gateway) in list {
        if warned.len() < 4096 && warned.insert(name.clone()) {
            tracing::warn!(
                "TLS peer not verified for destination {name} (--tls-verify no): anyone on the path can impersonate {gateway}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELF_CERT: &str = certs::SELF_SIGNED_CERT;

    fn peer(verify: bool, cert: Option<&Path>, key: Option<&Path>) -> TlsPeer {
        TlsPeer {
            destination: Some("lab".into()),
            server_name: None,
            verify,
            client_cert: cert.map(|p| p.display().to_string()),
            client_key: key.map(|p| p.display().to_string()),
        }
    }

    #[test]
    fn configs_are_cached_per_options_and_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k, _) = certs::ensure_self_signed(dir.path(), "client.example").expect("gen");
        let configs = ClientConfigs::new(RootCertStore::empty());
        let a = configs.get(&peer(true, None, None)).expect("default");
        let b = configs.get(&peer(true, None, None)).expect("default again");
        assert!(Arc::ptr_eq(&a, &b), "cached");
        let n = configs.get(&peer(false, None, None)).expect("no verify");
        assert!(!Arc::ptr_eq(&a, &n));
        let m = configs
            .get(&peer(true, Some(&c), Some(&k)))
            .expect("client cert");
        assert!(m.client_auth_cert_resolver.has_certs());
        assert!(!a.client_auth_cert_resolver.has_certs());
        let missing = dir.path().join("nope.key");
        let e = configs
            .get(&peer(true, Some(&c), Some(&missing)))
            .expect_err("missing key");
        assert!(e.contains("nope.key"), "{e}");
        // A key that is not the certificate's.
        let other = tempfile::tempdir().expect("tempdir");
        let (_, k2, _) = certs::ensure_self_signed(other.path(), "other.example").expect("gen");
        let e = configs
            .get(&peer(true, Some(&c), Some(&k2)))
            .expect_err("mismatch");
        assert!(e.contains("does not belong"), "{e}");
    }

    #[test]
    fn the_cache_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k, _) = certs::ensure_self_signed(dir.path(), "client.example").expect("gen");
        let configs = ClientConfigs::new(RootCertStore::empty());
        for i in 0..(MAX_CONFIGS + 5) {
            // The same files under distinct spellings: distinct cache keys.
            let dots = "./".repeat(i);
            let cert = dir.path().join(format!("{dots}{}", SELF_CERT));
            let p = peer(true, Some(&cert), Some(&k));
            configs.get(&p).expect("valid pair");
            assert!(configs.cache.lock().expect("lock").len() <= MAX_CONFIGS);
        }
        assert!(c.ends_with(SELF_CERT));
    }
}
