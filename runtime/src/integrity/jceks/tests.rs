//! Reads keystores made by Java's `keytool` (tests/fixtures/jceks, see its
//! README) and checks the keys against what Java itself read from them
//! (`forgerock.expected.txt`, written by `Dump.java` at fixture creation).

use super::*;
use sha2::Sha256;

const FIXTURE: &[u8] = include_bytes!("../../../../tests/fixtures/jceks/forgerock.jceks");
const EXPECTED: &str = include_str!("../../../../tests/fixtures/jceks/forgerock.expected.txt");
const PASSWORD: &str = "changeit";

fn expected(key: &str) -> &'static str {
    EXPECTED.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).unwrap_or_else(|| panic!("{key} in fixture"))
}

fn store() -> JceksKeyStore {
    JceksKeyStore::parse(Path::new("forgerock.jceks"), FIXTURE, PASSWORD).expect("fixture reads")
}

/// The bytes of a keystore with a valid digest around `body` (after magic).
fn with_digest(body: &[u8], password: &str) -> Vec<u8> {
    let mut data = MAGIC.to_be_bytes().to_vec();
    data.extend_from_slice(body);
    let mut md = Sha1::new();
    for u in password.encode_utf16() {
        md.update(u.to_be_bytes());
    }
    md.update(INTEGRITY_SALT);
    md.update(&data);
    data.extend_from_slice(&md.finalize());
    data
}

#[test]
fn keytool_keystore_lists_its_entries() {
    let ks = store();
    assert_eq!(ks.version(), 2);
    let listed: Vec<_> = ks.entries().iter().map(|e| (e.alias.as_str(), e.kind.name())).collect();
    assert_eq!(listed, [("signature", "private key"), ("password", "secret key")]);
    assert!(ks.entries().iter().all(|e| e.created_ms > 1_700_000_000_000));
}

#[test]
fn keytool_secret_key_is_javas_hmac_key() {
    let key = store().secret_key("password", PASSWORD).unwrap();
    assert_eq!(key.algorithm, expected("password.algorithm"));
    assert_eq!(hex::encode(&key.bytes), expected("password.hex"));
    assert_eq!(format!("{key:?}"), "SecretKey(HmacSHA256, 32 bytes)", "Debug shows no key bytes");
}

#[test]
fn keytool_rsa_key_and_certificate_are_javas() {
    use rsa::traits::PublicKeyParts;
    let ks = store();
    let pkcs8 = ks.private_key_pkcs8("signature", PASSWORD).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&pkcs8)), expected("signature.pkcs8.sha256"));
    let rsa = ks.rsa_private_key("SIGNATURE", PASSWORD).unwrap();
    assert_eq!(format!("{:x}", rsa.n()), expected("signature.modulus.hex"));
    assert_eq!(rsa.e().to_string(), expected("signature.publicExponent"));
    let chain = ks.certificate_chain("signature").unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].cert_type, "X.509");
    assert_eq!(hex::encode(Sha256::digest(&chain[0].der)), expected("signature.cert.sha256"));
}

#[test]
fn wrong_store_password_and_altered_file_fail_the_integrity_check() {
    let err = JceksKeyStore::parse(Path::new("ks.jceks"), FIXTURE, "wrong-password").unwrap_err();
    assert!(matches!(err, JceksError::Integrity { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("ks.jceks") && msg.contains("password is wrong") && !msg.contains("wrong-password"), "{msg}");
    for at in [10, 500, FIXTURE.len() / 2, FIXTURE.len() - 1] {
        let mut bad = FIXTURE.to_vec();
        bad[at] ^= 0x01;
        let err = JceksKeyStore::parse(Path::new("ks.jceks"), &bad, PASSWORD).unwrap_err();
        assert!(matches!(err, JceksError::Integrity { .. }), "byte {at}: {err}");
    }
    let err = JceksKeyStore::parse(Path::new("ks.jceks"), &FIXTURE[..FIXTURE.len() - 7], PASSWORD).unwrap_err();
    assert!(matches!(err, JceksError::Integrity { .. }), "{err}");
}

#[test]
fn wrong_key_password_is_a_typed_error_naming_the_entry() {
    let ks = store();
    for (alias, r) in [
        ("password", ks.secret_key("password", "not-it").map(|_| ())),
        ("signature", ks.private_key_pkcs8("signature", "not-it").map(|_| ())),
    ] {
        let err = r.unwrap_err();
        assert!(matches!(&err, JceksError::KeyPassword { alias: a, .. } if a == alias), "{err}");
        assert!(err.to_string().contains(&format!("entry {alias:?}")) && !err.to_string().contains("not-it"));
    }
    let err = ks.secret_key("password", "pässword").unwrap_err();
    assert!(matches!(err, JceksError::PasswordNotAscii { .. }), "{err}");
}

#[test]
fn missing_and_wrong_kind_entries_are_named() {
    let ks = store();
    let err = ks.secret_key("nope", PASSWORD).unwrap_err();
    assert_eq!(err.to_string(), "keystore forgerock.jceks: no entry \"nope\" (entries: signature, password)");
    let err = ks.secret_key("signature", PASSWORD).unwrap_err();
    assert_eq!(err.to_string(), "keystore forgerock.jceks: entry \"signature\" is a private key, not a secret key");
    assert!(matches!(ks.rsa_private_key("password", PASSWORD), Err(JceksError::WrongKind { .. })));
}

#[test]
fn other_files_and_corrupt_entries_are_refused_clearly() {
    let p = Path::new("x.jks");
    let jks = [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0];
    assert!(matches!(JceksKeyStore::parse(p, &jks, PASSWORD), Err(JceksError::NotJceks { found: 0xfeedfeed, .. })));
    assert!(matches!(JceksKeyStore::parse(p, &[0xce; 3], PASSWORD), Err(JceksError::Corrupt { .. })));
    // Version 3, with a valid digest.
    let v3 = with_digest(&[0, 0, 0, 3, 0, 0, 0, 0], PASSWORD);
    assert!(matches!(JceksKeyStore::parse(p, &v3, PASSWORD), Err(JceksError::Version { version: 3, .. })));
    // An entry of unknown tag 9 named "k", and an entry count larger than the file.
    let mut body = vec![0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, 0, 1, b'k'];
    body.extend_from_slice(&[0; 8]);
    let err = JceksKeyStore::parse(p, &with_digest(&body, PASSWORD), PASSWORD).unwrap_err();
    assert_eq!(err.to_string(), "keystore x.jks: corrupt at byte 27 (entry \"k\"): unknown entry tag 9");
    let err = JceksKeyStore::parse(p, &with_digest(&[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff], PASSWORD), PASSWORD).unwrap_err();
    assert!(matches!(err, JceksError::Corrupt { .. }), "{err}");
    // A secret key entry whose serialized object is cut short, and every
    // truncation of the real one: errors, never panics.
    let secret_at = FIXTURE.windows(4).position(|w| w == [0, 0, 0, 3]).unwrap();
    let body = &FIXTURE[4..FIXTURE.len() - 20];
    for cut in (secret_at..body.len()).step_by(7) {
        let mut b = body[..cut - 4].to_vec();
        b[4..8].copy_from_slice(&2u32.to_be_bytes());
        let r = JceksKeyStore::parse(p, &with_digest(&b, PASSWORD), PASSWORD);
        assert!(matches!(r, Err(JceksError::Corrupt { .. })), "cut {cut}: {r:?}");
    }
}

#[test]
fn pbe_parameters_are_checked() {
    use pbe::PbeParams;
    let ok = [0x30, 0x0f, 0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x02, 0x03, 0x03, 0x0d, 0x40];
    assert_eq!(PbeParams::from_der(&ok).unwrap(), PbeParams { salt: [1, 2, 3, 4, 5, 6, 7, 8], iterations: 200_000 });
    let mut zero = ok;
    zero[14..].copy_from_slice(&[0, 0, 0]);
    assert!(PbeParams::from_der(&zero).is_err());
    assert!(PbeParams::from_der(&ok[..10]).is_err());
    let p = PbeParams { salt: [1, 2, 3, 4, 1, 2, 3, 4], iterations: 1 };
    assert_eq!(pbe::decrypt(b"pw", &p, &[0; 7]), Err(pbe::PbeError::Padding));
}

#[test]
fn a_key_under_jks_key_protector_is_recovered() {
    // The same RSA key, stored as keys imported from JKS are (and as in
    // ForgeRock's own test keystore): see MakeJksProtected.java.
    let data = include_bytes!("../../../../tests/fixtures/jceks/jks-protected.jceks");
    let ks = JceksKeyStore::parse(Path::new("jks-protected.jceks"), data, PASSWORD).unwrap();
    let pkcs8 = ks.private_key_pkcs8("signature", PASSWORD).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&pkcs8)), expected("signature.pkcs8.sha256"));
    let err = ks.private_key_pkcs8("signature", "not-it").unwrap_err();
    assert!(matches!(err, JceksError::KeyPassword { .. }), "{err}");
}

// ---- The writer ----

/// `access.csv.keystore`: written by Java (`MakeForgeRockLog.java`), three
/// secret keys; its password is the Base64 of the `password` key's bytes.
const JAVA_FILE_KEYSTORE: &[u8] = include_bytes!("../../../../tests/fixtures/jceks/forgerock-log/access.csv.keystore");

fn file_keystore_password() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(expected("password.hex")).unwrap())
}

#[test]
fn writer_rebuilds_a_java_keystore_byte_for_byte() {
    let pw = file_keystore_password();
    let ks = JceksKeyStore::parse(Path::new("access.csv.keystore"), JAVA_FILE_KEYSTORE, &pw).unwrap();
    let mut writer = JceksWriter::new(Path::new("rebuilt")).unwrap();
    for e in ks.entries() {
        let EntryKind::SecretKey { params, content, .. } = &e.kind else { panic!("{} is not a secret key", e.alias) };
        // The sealed plaintext is exactly what the writer serializes for that key.
        let p = pbe::PbeParams::from_der(params).unwrap();
        assert_eq!(p.to_der(), *params, "{}: PBE parameters re-encode as Java's", e.alias);
        assert_eq!(p.iterations, SEAL_ITERATIONS);
        let plain = pbe::decrypt(pw.as_bytes(), &p, content).unwrap();
        let key = ks.secret_key(&e.alias, &pw).unwrap();
        assert_eq!(write::secret_key_spec(&key.algorithm, &key.bytes).unwrap(), plain, "{}: SecretKeySpec stream", e.alias);
        assert_eq!(pbe::encrypt(pw.as_bytes(), &p, &plain), *content, "{}: same salt, same ciphertext", e.alias);
        writer.entries.push(write::Sealed {
            alias: e.alias.clone(),
            created_ms: e.created_ms,
            stream: write::sealed_object(params, content),
        });
    }
    assert_eq!(writer.entries.len(), 3);
    assert!(writer.to_bytes(&pw) == JAVA_FILE_KEYSTORE, "the whole file, digest included, is Java's");
}

#[test]
fn written_keystore_round_trips_through_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.csv.keystore");
    let initial = SecretKey { algorithm: "HmacSHA256".into(), bytes: (0..32).collect() };
    let signature = SecretKey { algorithm: "SHA256withRSA".into(), bytes: vec![0xab; 256] };
    let mut w = JceksWriter::new(&path).unwrap().with_iterations(1000);
    w.set_secret_key("InitialKey", &initial, "k3y+/=").unwrap();
    w.set_secret_key("CurrentKey", &initial, "k3y+/=").unwrap();
    w.set_secret_key("CurrentSignature", &signature, "k3y+/=").unwrap();
    let next = SecretKey { algorithm: "HmacSHA256".into(), bytes: Sha256::digest(&initial.bytes).to_vec() };
    w.set_secret_key("CURRENTKEY", &next, "k3y+/=").unwrap();
    w.store("k3y+/=").unwrap();
    assert!(!dir.path().join(".access.csv.keystore.tmp").exists(), "no temporary file left");
    let ks = JceksKeyStore::open(&path, "k3y+/=").unwrap();
    let aliases: Vec<_> = ks.entries().iter().map(|e| e.alias.as_str()).collect();
    assert_eq!(aliases, ["initialkey", "currentkey", "currentsignature"], "replaced in place, lower-cased as Java does");
    assert_eq!(ks.secret_key("InitialKey", "k3y+/=").unwrap(), initial);
    assert_eq!(ks.secret_key("CurrentKey", "k3y+/=").unwrap(), next);
    assert_eq!(ks.secret_key("CurrentSignature", "k3y+/=").unwrap(), signature);
    assert!(matches!(JceksKeyStore::open(&path, "other"), Err(JceksError::Integrity { .. })));
    assert!(matches!(w.set_secret_key("x", &initial, "pässword"), Err(JceksError::PasswordNotAscii { .. })));
    assert_eq!(format!("{w:?}"), format!("JceksWriter({}, [\"initialkey\", \"currentkey\", \"currentsignature\"])", path.display()));
}

/// Whether a Java tool is here; under `CI=true` its absence fails the test.
fn java_tool(name: &str) -> bool {
    let found = std::process::Command::new(name).arg("-version").output().is_ok();
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is required under CI=true");
        eprintln!("skipped: no {name} on this machine");
    }
    found
}

#[test]
fn java_keytool_lists_and_java_recovers_a_written_keystore() {
    if !java_tool("keytool") || !java_tool("java") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("written.jceks");
    let pw = file_keystore_password();
    let initial = SecretKey { algorithm: "HmacSHA256".into(), bytes: Sha256::digest(b"initial").to_vec() };
    let signature = SecretKey { algorithm: "SHA256withRSA".into(), bytes: (0..=255).collect() };
    let mut w = JceksWriter::new(&path).unwrap();
    w.set_secret_key("InitialKey", &initial, &pw).unwrap();
    w.set_secret_key("CurrentKey", &initial, &pw).unwrap();
    w.set_secret_key("CurrentSignature", &signature, &pw).unwrap();
    w.store(&pw).unwrap();
    let out = std::process::Command::new("keytool")
        .args(["-list", "-v", "-storetype", "JCEKS", "-keystore"])
        .arg(&path)
        .args(["-storepass", &pw])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "keytool: {text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Your keystore contains 3 entries"), "{text}");
    for alias in ["initialkey", "currentkey", "currentsignature"] {
        assert!(text.contains(&format!("Alias name: {alias}")), "{alias}: {text}");
    }
    assert_eq!(text.matches("Entry type: SecretKeyEntry").count(), 3, "{text}");
    // Java recovers each key (decrypts the seal) and gets the same bytes.
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/jceks/ReadSecretKeys.java");
    let out = std::process::Command::new("java").arg(program).arg(&path).arg(&pw).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "java: {text}{}", String::from_utf8_lossy(&out.stderr));
    let expected = format!(
        "currentkey=HmacSHA256:{k}\ncurrentsignature=SHA256withRSA:{s}\ninitialkey=HmacSHA256:{k}\n",
        k = hex::encode(&initial.bytes),
        s = hex::encode(&signature.bytes)
    );
    assert_eq!(text, expected);
}
