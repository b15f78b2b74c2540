//! The `elasticsearch` and `splunk` outputs a WASM handler declares, and
//! Splunk's indexer acknowledgement (`useAck`), against the strict
//! in-test receivers of `http_output` (Elasticsearch and Splunk are not
//! installable here): documents indexed by their `_id`, per-item
//! rejections dead-lettered, HEC batches acknowledged only once the
//! indexers confirmed them, and TLS with a client certificate.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, probe_handler};

use crate::http_output::{Receiver, bulk};

#[test]
fn a_wasm_handler_indexes_its_documents_in_elasticsearch() {
    let receiver = Receiver::start_with(bulk);
    let fx = Fixture::new();
    let handler = probe_handler(
        "docs",
        json!({"outputs": {"out": {"type": "elasticsearch", "url": format!("http://127.0.0.1:{}", receiver.port), "index": "wasp-docs",
                                   "username": "elastic", "password": "changeme"}},
               "batch": {"maxSize": 8, "maxWait": "5 ms"}}),
    );
    let audit = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    for n in 0..10 {
        let mut event = json!({"_id": format!("doc-{n}"), "action": "document", "userId": "bjensen", "n": n});
        if n == 4 {
            event["bad"] = json!(true);
        }
        audit.publish("access", event).unwrap();
    }
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (9, 1), "{h:?}");
    assert_eq!(h.outputs[0].kind, "elasticsearch");
    assert_eq!((h.outputs[0].counts.acknowledged, h.outputs[0].counts.rejected), (9, 1), "{h:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    let docs: BTreeMap<&str, &Value> = seen.records.iter().map(|r| (r["_id"].as_str().unwrap(), r)).collect();
    assert_eq!(docs.len(), 9);
    let first = docs["doc-0"];
    assert_eq!(first["_index"], "wasp-docs");
    assert_eq!(first["doc"]["userId"], "bjensen", "the record as the handler wrote it, without `_id`: {first}");
    let letters = fx.dead_letters("docs");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event.id, "doc-4");
    assert!(letters[0].fault.message.contains("mapper_parsing_exception"), "{:?}", letters[0].fault);
}

/// Indexer acknowledgement state of the HEC receiver: ack ids handed out,
/// and how many times each was polled.
static ACKS: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

/// HEC with indexer acknowledgement: an event batch is answered with an
/// `ackId`; `/services/collector/ack?channel=…` (same channel header)
/// confirms an id on its second poll. The events' `sourcetype` is the
/// output's.
fn hec_with_acks(request_line: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Result<(Vec<Value>, String), String> {
    if headers.get("authorization").map(String::as_str) != Some("Splunk 11111111-2222-3333-4444-555555555555") {
        return Err("invalid token".into());
    }
    let channel = headers.get("x-splunk-request-channel").ok_or("no request channel")?;
    if let Some(rest) = request_line.strip_prefix("POST /services/collector/ack?channel=") {
        if rest.split(' ').next() != Some(channel.as_str()) {
            return Err("the ack poll's channel is not the request's".into());
        }
        let asked: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut acks = ACKS.lock().unwrap();
        let mut answer = serde_json::Map::new();
        for id in asked["acks"].as_array().ok_or("no acks")? {
            let id = id.as_u64().ok_or("an ack id is not a number")?;
            let polls = acks.get_mut(&id).ok_or(format!("unknown ack id {id}"))?;
            *polls += 1;
            answer.insert(id.to_string(), json!(*polls >= 2));
        }
        return Ok((Vec::new(), json!({"acks": answer}).to_string()));
    }
    if !request_line.starts_with("POST /services/collector/event ") {
        return Err(format!("unexpected request line {request_line:?}"));
    }
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    for line in text.lines() {
        let object: Value = serde_json::from_str(line).map_err(|e| format!("invalid data format: {e}"))?;
        if object["sourcetype"] != "wasp:probe" || object["index"] != "audit" || !object["event"].is_object() {
            return Err(format!("not the output's HEC event object: {line}"));
        }
        events.push(object);
    }
    let mut acks = ACKS.lock().unwrap();
    let id = acks.keys().next_back().map_or(1, |last| last + 1);
    acks.insert(id, 0);
    Ok((events, json!({"text": "Success", "code": 0, "ackId": id}).to_string()))
}

#[test]
fn a_wasm_handler_sends_to_splunk_and_waits_for_the_indexers() {
    let receiver = Receiver::start_with(hec_with_acks);
    let fx = Fixture::new();
    let handler = probe_handler(
        "hec",
        json!({"outputs": {"out": {"type": "splunk", "url": format!("http://127.0.0.1:{}", receiver.port),
                                   "token": "11111111-2222-3333-4444-555555555555", "sourcetype": "wasp:probe", "index": "audit",
                                   "useAck": true}},
               "batch": {"maxSize": 5, "maxWait": "5 ms"}}),
    );
    let audit = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    for n in 0..12 {
        audit.publish("access", json!({"_id": format!("ack-{n}")})).unwrap();
    }
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (12, 0), "{h:?}");
    let seen = receiver.seen.lock().unwrap();
    assert!(seen.malformed.is_empty(), "{:?}", seen.malformed);
    assert_eq!(seen.records.len(), 12);
    assert_eq!(seen.records[0]["event"]["id"], "ack-0", "the record as the event: {}", seen.records[0]);
    // Every batch was polled until confirmed (twice each).
    let acks = ACKS.lock().unwrap();
    assert!(acks.len() >= 3, "{acks:?}");
    assert!(acks.values().all(|polls| *polls == 2), "each batch waited for its confirmation: {acks:?}");
    drop(seen);
}

#[test]
fn splunk_without_indexer_acknowledgement_on_the_token_is_a_clear_error() {
    // The plain HEC receiver answers without an ackId.
    let receiver = Receiver::start_with(crate::http_output::hec);
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({"eventHandlers": [{
        "class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler",
        "config": {"name": "splunk", "enabled": true, "authzToken": "0fdc9a1e-7b0a-4c39-b9a0-3c9a0ad1e4f7", "useAck": true,
                   "connection": {"host": "127.0.0.1", "port": receiver.port}, "topics": ["access"]}
    }]}));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit.publish("access", json!({"_id": "no-ack", "timestamp": "2026-12-04T10:00:00Z"})).unwrap();
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered), (0, 1), "{h:?}");
    let letters = fx.dead_letters("splunk");
    assert!(letters[0].fault.message.contains("without an ackId"), "{:?}", letters[0].fault);
}

#[test]
fn bad_elasticsearch_and_splunk_output_settings_are_named() {
    let fx = Fixture::new();
    for (output, expected) in [
        (json!({"type": "elasticsearch", "url": "http://127.0.0.1:9200", "index": "Audit"}), "index: `Audit` is not an index name"),
        (
            json!({"type": "elasticsearch", "url": "http://127.0.0.1:9200", "index": "a", "username": "u"}),
            "username and password go together",
        ),
        (json!({"type": "elasticsearch", "url": "ftp://x", "index": "a"}), "not an http:// or https:// URL"),
        (json!({"type": "splunk", "url": "https://127.0.0.1:8088", "token": " "}), "token: required"),
        (json!({"type": "splunk", "url": "https://127.0.0.1:8088", "token": "t", "certFile": "c.pem"}), "certFile and keyFile go together"),
        (json!({"type": "splunk", "url": "https://127.0.0.1:8088", "token": "t", "caFile": "missing.pem"}), "missing.pem"),
    ] {
        let handler = probe_handler("bad", json!({"outputs": {"out": output}}));
        let error = match AuditService::from_config_file(fx.config(&[handler])) {
            Ok(audit) => {
                // Files are read when the output opens: the handler is disabled with the reason.
                let h = audit.shutdown().handlers[0].clone();
                h.disabled_reason.unwrap_or_default()
            }
            Err(e) => e.to_string(),
        };
        assert!(error.contains(expected), "{expected}: {error}");
    }
}

/// A CA, a server certificate for `localhost` and a client certificate it
/// signed, as PEM files in `dir`: `ca.pem`, `server.pem`/`server.key`,
/// `client.pem`/`client.key`.
fn certificates(dir: &std::path::Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "network outputs test CA");
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    for (name, names) in [("server", vec!["localhost".to_owned()]), ("client", vec!["wasp-client".to_owned()])] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(names).unwrap().signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// An HTTPS HEC receiver on `localhost` that requires a client certificate
/// signed by `ca.pem`; returns its port and the `_id`s it accepted.
fn https_hec_requiring_client_certificates(dir: &std::path::Path) -> (u16, std::sync::Arc<Mutex<Vec<String>>>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{BufRead, BufReader, Read, Write};
    use tokio_rustls::rustls;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(std::sync::Arc::new(roots), provider.clone()).build().unwrap();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ids = std::sync::Arc::new(Mutex::new(Vec::new()));
    let kept = ids.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (Ok(stream), config, kept) = (stream, config.clone(), kept.clone()) else {
                continue;
            };
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut reader = BufReader::new(rustls::StreamOwned::new(connection, stream));
                loop {
                    let mut line = String::new();
                    // A handshake the server refuses (no client certificate) ends here.
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = header.trim_end().to_ascii_lowercase();
                        if header.is_empty() {
                            break;
                        }
                        if let Some(value) = header.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    for line in String::from_utf8(body).unwrap().lines() {
                        let event: Value = serde_json::from_str(line).unwrap();
                        // A WASM handler's record has `id`; a built-in handler sends the event (`_id`).
                        let id = event["event"]["id"].as_str().or(event["event"]["_id"].as_str());
                        kept.lock().unwrap().push(id.unwrap_or_default().to_owned());
                    }
                    let answer = r#"{"text":"Success","code":0}"#;
                    let response =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{answer}", answer.len());
                    if reader.get_mut().write_all(response.as_bytes()).and_then(|()| reader.get_mut().flush()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, ids)
}

#[test]
fn a_client_certificate_is_presented_to_a_receiver_that_asks_for_one() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let (port, ids) = https_hec_requiring_client_certificates(dir.path());
    let run = |with_certificate: bool, id: &str| {
        let fx = Fixture::new();
        let mut output =
            json!({"type": "splunk", "url": format!("https://localhost:{port}"), "token": "t", "caFile": dir.path().join("ca.pem")});
        if with_certificate {
            output["certFile"] = json!(dir.path().join("client.pem"));
            output["keyFile"] = json!(dir.path().join("client.key"));
        }
        let handler = probe_handler("tls", json!({"outputs": {"out": output}, "batch": {"maxSize": 1, "maxWait": "1 ms"}}));
        let audit = AuditService::from_config_file(fx.config(&[handler])).unwrap();
        audit.publish("access", json!({"_id": id})).unwrap();
        if with_certificate {
            audit.flush();
        } else {
            wasp_tests::wait_for("a refused handshake, retried", || audit.summary().handlers[0].retries >= 1);
        }
        audit.summary().handlers[0].clone()
    };
    let h = run(true, "tls-with");
    assert_eq!((h.delivered, h.output_error.as_deref()), (1, None), "{h:?}");
    assert_eq!(*ids.lock().unwrap(), ["tls-with"]);
    // Without the certificate the receiver refuses the handshake: the
    // event waits in the journal (retried), neither sent nor dead-lettered.
    let h = run(false, "tls-without");
    assert_eq!((h.delivered, h.dead_lettered), (0, 0), "{h:?}");
    assert!(h.output_error.is_some(), "{h:?}");
    assert_eq!(*ids.lock().unwrap(), ["tls-with"]);
}

/// ForgeRock's Splunk handler with `useSSL: true` speaks HTTPS (ForgeRock's
/// own handler builds an `http://` URL whatever `useSSL` says), trusting
/// `connection.caFile` and presenting `certFile`/`keyFile`.
#[test]
fn the_builtin_splunk_handler_honours_use_ssl_with_a_private_ca_and_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let (port, ids) = https_hec_requiring_client_certificates(dir.path());
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({"eventHandlers": [{
        "class": "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler",
        "config": {"name": "splunk", "topics": ["access"], "authzToken": "t",
                   "connection": {"host": "localhost", "port": port, "useSSL": true,
                                  "caFile": dir.path().join("ca.pem"), "certFile": dir.path().join("client.pem"),
                                  "keyFile": dir.path().join("client.key")},
                   "buffering": {"writeInterval": "10 ms", "maxBatchedEvents": 10}}
    }]}));
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(&format!("https://localhost:{port}")), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit.publish("access", json!({"_id": "ssl-1", "timestamp": "2026-12-04T10:00:00Z"})).unwrap();
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.output_error.as_deref()), (1, 0, None), "{h:?}");
    assert_eq!(*ids.lock().unwrap(), ["ssl-1"]);
}
