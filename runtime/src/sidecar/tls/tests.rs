//! The TLS files: a good pair loads; each way they can be wrong is named
//! with its field and file.

use std::path::Path;

use super::*;

/// A self-signed certificate for `localhost`: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (pair.cert.pem(), pair.signing_key.serialize_pem())
}

fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    TlsFiles { cert_file: dir.join("cert.pem"), key_file: dir.join("key.pem") }
}

fn error(files: &TlsFiles) -> String {
    acceptor(files).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn a_matching_pair_loads_and_every_bad_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    assert!(acceptor(&files(dir.path(), &cert, &key)).is_ok());

    // The key where the certificate should be.
    let err = error(&files(dir.path(), &key, &key));
    assert!(err.starts_with("wasp.sidecar.tls.certFile: ") && err.contains("cert.pem") && err.contains("no CERTIFICATE"), "{err}");
    // The certificate where the key should be.
    let err = error(&files(dir.path(), &cert, &cert));
    assert!(err.starts_with("wasp.sidecar.tls.keyFile: ") && err.contains("key.pem") && err.contains("no usable PEM private key"), "{err}");
    // The key of another certificate.
    let (_, other_key) = self_signed();
    let err = error(&files(dir.path(), &cert, &other_key));
    assert!(err.starts_with("wasp.sidecar.tls: ") && err.contains("cert.pem") && err.contains("key.pem"), "{err}");
    // Unreadable.
    let missing = TlsFiles { cert_file: dir.path().join("cert.pem"), key_file: dir.path().join("gone.pem") };
    let err = error(&missing);
    assert!(err.starts_with("wasp.sidecar.tls.keyFile: ") && err.contains("gone.pem"), "{err}");
}
