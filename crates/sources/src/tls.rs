//! TLS for PostgreSQL and ClickHouse with rustls, following libpq's `sslmode` and
//! `sslrootcert`:
//!
//! | `sslmode` | encrypted | certificate checked |
//! | --- | --- | --- |
//! | `disable` | never | - |
//! | `prefer` (PostgreSQL's default) | if the server offers it | no |
//! | `require` | always | no (with `sslrootcert`: as `verify-ca`, as libpq does) |
//! | `verify-ca` | always | signed by a trusted root |
//! | `verify-full` (ClickHouse's default) | always | signed by a trusted root, for the host connected to |
//!
//! Trusted roots are those of the `sslrootcert` PEM file, else the system's. HTTP cannot
//! offer TLS on the same port as plain text, so for ClickHouse `prefer` is `require`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::SslMode as WireMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it, certificate not checked.
    Prefer,
    /// TLS, certificate not checked.
    Require,
    /// TLS, certificate signed by a trusted root.
    VerifyCa,
    /// TLS, certificate signed by a trusted root and issued for the host.
    VerifyFull,
}

impl SslMode {
    /// Parses a value of `sslmode`.
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The name libpq gives it.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the wire protocol is told: whether TLS may be, or must be, used.
    pub(crate) fn wire(self) -> WireMode {
        match self {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            _ => WireMode::Require,
        }
    }
}

/// How to check the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// The TLS connector for `mode`, trusting `root_cert` (or the system's roots).
pub(crate) fn connector(
    mode: SslMode,
    root_cert: Option<&Path>,
) -> Result<MakeRustlsConnect, String> {
    Ok(MakeRustlsConnect::new(client_config(mode, root_cert)?))
}

/// The rustls configuration for `mode`, trusting `root_cert` (or the system's roots).
pub(crate) fn client_config(
    mode: SslMode,
    root_cert: Option<&Path>,
) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let check = match (mode, root_cert) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => Check::Nothing,
        (SslMode::Require | SslMode::VerifyCa, _) => Check::Chain,
        (SslMode::VerifyFull, _) => Check::ChainAndName,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(Relaxed {
            provider,
            chain: None,
        }),
        Check::Chain | Check::ChainAndName => {
            let roots = Arc::new(roots(root_cert)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| e.to_string())?;
            match check {
                Check::Chain => Arc::new(Relaxed {
                    provider,
                    chain: Some(webpki),
                }),
                _ => webpki,
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The roots of the PEM file `path`, or the system's.
fn roots(path: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match path {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
            if store.is_empty() {
                return Err(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system store may hold a certificate rustls cannot use; skip it.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err("no system root certificates were found; give sslrootcert=PATH".into());
            }
        }
    }
    Ok(store)
}

/// Checks the server's certificate as `sslmode` says: not at all (`prefer`, `require`: the
/// connection is encrypted, not authenticated), or its chain to a trusted root (`verify-ca`),
/// for whatever host name. Either way the server must prove it holds the certificate's key.
/// (`verify-full` uses rustls's verifier as it is.)
#[derive(Debug)]
struct Relaxed {
    provider: Arc<CryptoProvider>,
    /// The chain's verifier, for `verify-ca`.
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A PostgreSQL URL split into what the driver reads and the TLS settings it does not.
#[derive(Debug, PartialEq)]
pub(crate) struct Url {
    /// The URL without `sslmode` and `sslrootcert`.
    pub(crate) rest: String,
    pub(crate) mode: SslMode,
    pub(crate) root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of `url`'s query; without `sslmode`, the mode is
/// `default`.
pub(crate) fn split(url: &str, default: SslMode) -> Result<Url, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root_cert, mut kept) = (default, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                mode = SslMode::parse(value).ok_or_else(|| {
                    format!("sslmode=`{value}` is not one of disable, prefer, require, verify-ca, verify-full")
                })?
            }
            "sslrootcert" => {
                let path = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                root_cert = Some(PathBuf::from(path.as_ref()))
            }
            _ => kept.push(pair),
        }
    }
    let rest = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok(Url {
        rest,
        mode,
        root_cert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_of_the_url() {
        let u = split(
            "postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
            SslMode::Prefer,
        )
        .unwrap();
        assert_eq!(u.rest, "postgres://u@h/db?application_name=x");
        assert_eq!(u.mode, SslMode::VerifyFull);
        assert_eq!(u.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        let u = split("postgres://u@h/db", SslMode::Prefer).unwrap();
        assert_eq!(
            (u.rest.as_str(), u.mode, u.root_cert),
            ("postgres://u@h/db", SslMode::Prefer, None)
        );
        assert_eq!(
            split("clickhouse://h/db", SslMode::VerifyFull)
                .unwrap()
                .mode,
            SslMode::VerifyFull
        );
        assert!(split("postgres://h/db?sslmode=allow", SslMode::Prefer)
            .unwrap_err()
            .contains("verify-full"));
    }
}
