//! TLS to PostgreSQL, as libpq users write it in the URL: `sslmode` (`disable`, `prefer` — the
//! default: TLS when the server offers it — or `require`) and `sslrootcert` (a PEM file of CA
//! certificates to trust besides the Mozilla roots, for a database with a private CA).
//! Certificates are always verified, host name included: `require` is libpq's `verify-full`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_postgres_rustls::MakeRustlsConnect;

/// A connection URL, its `sslrootcert` taken out (tokio-postgres does not read it), and that
/// file.
pub(super) fn split_root_cert(url: &str) -> (String, Option<PathBuf>) {
    let key = "sslrootcert=";
    if let Some((base, query)) = url.split_once('?') {
        let mut root = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.strip_prefix(key) {
                Some(path) => {
                    root = Some(PathBuf::from(percent_decode(path)));
                    false
                }
                None => true,
            })
            .collect();
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (url, root);
    }
    // The key-value form: `host=db sslmode=require sslrootcert=/etc/ca.pem`.
    let mut root = None;
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|pair| match pair.strip_prefix(key) {
            Some(path) => {
                root = Some(PathBuf::from(path));
                false
            }
            None => true,
        })
        .collect();
    (kept.join(" "), root)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A TLS connector trusting the Mozilla roots, and the certificates of `root_cert` if given.
pub(super) fn connector(root_cert: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_cert {
        let pem = std::fs::read(path)
            .map_err(|error| format!("`sslrootcert`: cannot read `{}`: {error}", path.display()))?;
        let mut added = 0;
        for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
            let certificate = certificate.map_err(|error| {
                format!("`sslrootcert`: `{}` is not PEM: {error}", path.display())
            })?;
            roots.add(certificate).map_err(|error| {
                format!(
                    "`sslrootcert`: `{}` holds a certificate that cannot be trusted: {error}",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "`sslrootcert`: `{}` holds no PEM certificate",
                path.display()
            ));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| format!("cannot set up TLS: {error}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::split_root_cert;
    use std::path::PathBuf;

    #[test]
    fn the_root_certificate_is_taken_out_of_either_form_of_url() {
        assert_eq!(
            split_root_cert("postgres://p@db/x?sslmode=require&sslrootcert=%2Fetc%2Fca.pem"),
            (
                "postgres://p@db/x?sslmode=require".to_string(),
                Some(PathBuf::from("/etc/ca.pem"))
            )
        );
        assert_eq!(
            split_root_cert("postgres://p@db/x?sslrootcert=/ca.pem"),
            (
                "postgres://p@db/x".to_string(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            split_root_cert("host=db sslrootcert=/ca.pem sslmode=require"),
            (
                "host=db sslmode=require".to_string(),
                Some(PathBuf::from("/ca.pem"))
            )
        );
        assert_eq!(
            split_root_cert("postgres://p@db/x"),
            ("postgres://p@db/x".to_string(), None)
        );
    }
}
