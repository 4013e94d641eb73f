//! TLS client configuration shared by every client in the tool (WebSocket signaling, WHEP is done by
//! reqwest with the same policy, the ICE-server probe): rustls with the ring provider, certificates
//! verified against the Mozilla roots unless `--insecure` is given.

use std::sync::Arc;

/// The client configuration: verifying, or accepting any certificate when `insecure` (handshake
/// signatures are still checked).
pub fn client_config(insecure: bool) -> Result<rustls::ClientConfig, String> {
    client_config_with(insecure, &[])
}

/// [`client_config`] trusting, besides the Mozilla roots, the CA certificates `extra_roots` (DER,
/// from `--ca-file`).
pub fn client_config_with(
    insecure: bool,
    extra_roots: &[Vec<u8>],
) -> Result<rustls::ClientConfig, String> {
    if insecure {
        insecure_config()
    } else {
        verifying_config(extra_roots)
    }
}

/// The certificates of a PEM file (`--ca-file`), as DER: an error names the file and what is wrong
/// (unreadable, not PEM, no certificate in it).
pub fn load_ca_file(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let text = std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(&text) {
        let c =
            c.map_err(|e| format!("--ca-file {}: not a PEM certificate ({e})", path.display()))?;
        out.push(c.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err(format!(
            "--ca-file {}: no certificate in it (PEM, -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(out)
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Certificates verified against the Mozilla roots (webpki-roots) and `extra_roots`.
fn verifying_config(extra_roots: &[Vec<u8>]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in extra_roots {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| format!("--ca-file: a certificate cannot be a trust anchor: {e}"))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Any certificate accepted (`--insecure`); handshake signatures are still checked.
fn insecure_config() -> Result<rustls::ClientConfig, String> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = ring();
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth(),
    )
}

/// A TLS failure in words, naming a certificate problem precisely: expired (or not yet valid), the
/// wrong name, or an unknown CA. `err` is what a tokio-rustls handshake returns (an I/O error that
/// wraps the rustls error); other errors are shown as they are.
pub fn describe_error(err: &std::io::Error) -> String {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(e) => describe_rustls_error(e),
        None => err.to_string(),
    }
}

/// A rustls error in words (see [`describe_error`]).
pub fn describe_rustls_error(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = err else {
        return format!("TLS error: {err}");
    };
    let what = match c {
        C::Expired | C::ExpiredContext { .. } => "has expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet (check the clock)",
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "is not valid for this name (wrong name)"
        }
        C::UnknownIssuer => "is signed by an unknown CA (self-signed or a private CA)",
        C::Revoked => "is revoked",
        C::BadSignature => "has a bad signature",
        C::BadEncoding => "does not parse",
        _ => return format!("certificate rejected: {c:?}"),
    };
    format!("certificate rejected: the server's certificate {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_named() {
        use rustls::CertificateError as C;
        let cases = [
            (C::Expired, "has expired"),
            (C::NotValidForName, "wrong name"),
            (C::UnknownIssuer, "unknown CA"),
            (C::NotValidYet, "not valid yet"),
        ];
        for (c, want) in cases {
            let io = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(c.clone()),
            );
            let got = describe_error(&io);
            assert!(got.contains(want), "{c:?}: {got}");
            assert!(got.starts_with("certificate rejected"), "{got}");
        }
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(describe_error(&other), "reset");
    }
}
