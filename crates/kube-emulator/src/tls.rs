//! TLS on the server's port, beside plain HTTP: `kubectl` (client-go's `clientcmd`) sends
//! bearer tokens only to `https` servers, so authenticated `kubectl` runs need it. The
//! certificate is a fixed self-signed one for 127.0.0.1, for tests only; clients skip its
//! verification (`insecure-skip-tls-verify`).

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

const CERT: &str = include_str!("tls/cert.pem");
const KEY: &str = include_str!("tls/key.pem");

/// The acceptor of TLS connections, or why it cannot be built.
pub(crate) fn acceptor() -> std::io::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_slice_iter(CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).map_err(std::io::Error::other)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
