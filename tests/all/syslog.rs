//! ForgeRock's `SyslogAuditEventHandler` against a real rsyslog (Debian's
//! `rsyslogd`, started here on loopback ports with its RFC 5424 parser):
//! what rsyslog parsed is compared field by field, over TCP (octet
//! counting) and UDP; with rsyslog down, events wait in the journal and
//! arrive once it is back; the seeds' syslog configurations run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use serde_json::{Value, json};
use wasp::AuditService;
use wasp_tests::{Fixture, in_ci, wait_for};

/// An rsyslogd of this test, writing what it receives to `received.log`,
/// one line per message: `pri timestamp hostname app-name procid msgid
/// structured-data msg`, tab-separated.
struct Rsyslog {
    dir: tempfile::TempDir,
    tcp: u16,
    udp: u16,
    child: Option<Child>,
}

fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }
}

impl Rsyslog {
    /// Starts one, or `None` (skipped) where rsyslogd is not installed;
    /// under `CI=true` a missing rsyslogd fails the test (`.ci/run`
    /// installs it).
    fn start() -> Option<Rsyslog> {
        Self::start_with(None, "anon")
    }

    /// With `tls` (CA, certificate and key files), the TCP port speaks TLS
    /// (RFC 5425; rsyslog's gtls driver, Debian's rsyslog-gnutls), with
    /// `auth_mode` `anon` (any client) or `x509/certvalid` (a client
    /// certificate the CA signed).
    fn start_with(tls: Option<(&Path, &Path, &Path)>, auth_mode: &str) -> Option<Rsyslog> {
        if !Path::new("/usr/sbin/rsyslogd").exists() {
            assert!(!in_ci(), "rsyslogd is missing: scripts/test.sh installs Debian's rsyslog");
            eprintln!("skipped: /usr/sbin/rsyslogd is missing (apt-get install rsyslog)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (tcp, udp) = (free_port(false), free_port(true));
        let (global_tls, tcp_driver) = match tls {
            None => (String::new(), String::new()),
            Some((ca, cert, key)) => (
                format!(
                    r#" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{}" DefaultNetstreamDriverCertFile="{}" DefaultNetstreamDriverKeyFile="{}""#,
                    ca.display(),
                    cert.display(),
                    key.display()
                ),
                format!(r#" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="{auth_mode}""#),
            ),
        };
        let conf = format!(
            r#"global(workDirectory="{dir}"{global_tls})
module(load="imtcp"{tcp_driver})
module(load="imudp")
input(type="imtcp" port="{tcp}" address="127.0.0.1")
input(type="imudp" port="{udp}" address="127.0.0.1")
template(name="fields" type="string" string="%pri%\t%timereported:::date-rfc3339%\t%hostname%\t%app-name%\t%procid%\t%msgid%\t%structured-data%\t%msg%\n")
action(type="omfile" file="{dir}/received.log" template="fields")
"#,
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
        let mut rsyslog = Rsyslog { dir, tcp, udp, child: None };
        rsyslog.run();
        Some(rsyslog)
    }

    /// (Re)starts the daemon on the same ports and waits until TCP accepts.
    fn run(&mut self) {
        let dir = self.dir.path();
        let child = Command::new("/usr/sbin/rsyslogd")
            .args(["-n", "-f"])
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("rsyslogd.err")).unwrap())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        wait_for("rsyslogd to listen", || std::net::TcpStream::connect(("127.0.0.1", self.tcp)).is_ok());
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What rsyslog wrote, one entry per message.
    fn received(&self) -> Vec<Received> {
        std::fs::read_to_string(self.dir.path().join("received.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let parts: Vec<&str> = line.splitn(8, '\t').collect();
                assert_eq!(parts.len(), 8, "{line}");
                Received {
                    pri: parts[0].parse().unwrap(),
                    timestamp: parts[1].to_owned(),
                    hostname: parts[2].to_owned(),
                    app: parts[3].to_owned(),
                    procid: parts[4].to_owned(),
                    msgid: parts[5].to_owned(),
                    params: structured_data(parts[6]),
                    msg: parts[7].to_owned(),
                }
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
struct Received {
    pri: u16,
    timestamp: String,
    hostname: String,
    app: String,
    procid: String,
    msgid: String,
    /// SD-ID and its parameters, unescaped.
    params: (String, BTreeMap<String, String>),
    /// The free-form part.
    msg: String,
}

/// Parses one RFC 5424 structured data element as rsyslog prints it.
fn structured_data(text: &str) -> (String, BTreeMap<String, String>) {
    if text == "-" {
        return (String::new(), BTreeMap::new());
    }
    let inner = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or_else(|| panic!("not one SD element: {text}"));
    let (id, mut rest) = inner.split_once(' ').unwrap_or((inner, ""));
    let mut params = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad SD: {text}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        value.push(next);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        params.insert(name.trim().to_owned(), value);
        rest = after[end..].trim_start();
    }
    (id.to_owned(), params)
}

fn syslog_handler(protocol: &str, port: u16, extra: Value) -> Value {
    let mut config = json!({
        "name": "syslog", "topics": ["access", "authentication"], "protocol": protocol,
        "host": "127.0.0.1", "port": port, "connectTimeout": 2000, "facility": "local3",
        "severityFieldMappings": [
            {"topic": "authentication", "field": "result", "valueMappings": {"FAILED": "WARNING", "SUCCESSFUL": "informational"}}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler", "config": config})
}

fn publish_and_check(protocol: &str) {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let port = if protocol == "UDP" { rsyslog.udp } else { rsyslog.tcp };
    let fx = Fixture::new();
    let config = fx.config_doc(&json!({"eventHandlers": [syslog_handler(protocol, port, json!({"productName": "OpenIG"}))]}));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit
        .publish("authentication", json!({"_id": "a1", "timestamp": "2026-12-04T10:00:00.123Z", "principal": ["bjensen"], "result": "FAILED", "context": {"ip": "203.0.113.7"}}))
        .unwrap();
    audit
        .publish("access", json!({"_id": "x1", "timestamp": "2026-12-04T10:00:01Z", "userId": "quote\"and]bracket\\", "response": {"status": "SUCCESSFUL"}}))
        .unwrap();
    audit.flush();
    let summary = audit.shutdown();
    assert_eq!(summary.handlers[0].delivered, 2, "{:?}", summary.handlers[0]);
    wait_for("rsyslog to write both messages", || rsyslog.received().len() == 2);
    let got = rsyslog.received();
    let auth = got.iter().find(|r| r.msgid == "authentication").unwrap();
    assert_eq!(auth.pri, 19 * 8 + 4, "local3.warning from severityFieldMappings: {auth:?}");
    assert_eq!(auth.timestamp, "2026-12-04T10:00:00.123Z");
    assert_eq!((auth.app.as_str(), auth.procid.as_str()), ("OpenIG", "-"));
    assert!(!auth.hostname.is_empty() && auth.hostname != "-");
    assert_eq!(auth.params.0, "authentication@36733");
    assert_eq!(auth.params.1["_id"], "a1");
    assert_eq!(auth.params.1["result"], "FAILED");
    assert_eq!(serde_json::from_str::<Value>(&auth.params.1["context"]).unwrap(), json!({"ip": "203.0.113.7"}));
    let access = got.iter().find(|r| r.msgid == "access").unwrap();
    assert_eq!(access.pri, 19 * 8 + 6, "unmapped: informational");
    assert_eq!(access.params.1["userId"], "quote\"and]bracket\\", "escaped and read back");
}

#[test]
fn syslog_over_tcp_reaches_rsyslog_field_by_field() {
    publish_and_check("TCP");
}

#[test]
fn syslog_over_udp_reaches_rsyslog_field_by_field() {
    publish_and_check("UDP");
}

#[test]
fn syslog_over_tls_reaches_rsyslog_and_a_wrong_ca_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let write_ca = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(certs.path().join(format!("{name}.pem")), cert.pem()).unwrap();
        (params, key)
    };
    let (ca_params, ca_key) = write_ca("ca");
    let _ = write_ca("other-ca");
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    std::fs::write(certs.path().join("server.pem"), server.pem()).unwrap();
    std::fs::write(certs.path().join("server.key"), server_key.serialize_pem()).unwrap();
    let Some(rsyslog) = Rsyslog::start_with(
        Some((&certs.path().join("ca.pem"), &certs.path().join("server.pem"), &certs.path().join("server.key"))),
        "anon",
    ) else {
        return;
    };
    let run = |ca: &str, id: &str| {
        let fx = Fixture::new();
        let tls = json!({"tls": {"caFile": certs.path().join(ca), "serverName": "localhost"}});
        let config = fx.config_doc(&json!({"eventHandlers": [syslog_handler("TLS", rsyslog.tcp, tls)]}));
        let audit = AuditService::from_config_file(&config).unwrap();
        audit.publish("access", json!({"_id": id})).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        audit.summary().handlers[0].clone()
    };
    let h = run("ca.pem", "tls-1");
    assert_eq!((h.delivered, h.output_error.as_deref()), (1, None), "{h:?}");
    wait_for("the TLS message at rsyslog", || rsyslog.received().iter().any(|r| r.params.1["_id"] == "tls-1"));
    // A daemon whose certificate another CA signed is not trusted: the
    // event waits (retried), it is neither sent nor dead-lettered.
    let h = run("other-ca.pem", "tls-2");
    assert_eq!((h.delivered, h.dead_lettered), (0, 0), "{h:?}");
    assert!(h.output_error.as_deref().is_some_and(|e| e.contains("certificate")), "{h:?}");
    assert!(!rsyslog.received().iter().any(|r| r.params.1["_id"] == "tls-2"));
}

/// rsyslog asking for a client certificate (`x509/certvalid`): the handler
/// presents `tls.certFile`/`tls.keyFile` and its messages arrive.
#[test]
fn syslog_over_tls_presents_a_client_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "client certificates test CA");
    std::fs::write(certs.path().join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    for (name, names) in [("server", vec!["localhost".to_owned()]), ("client", vec!["wasp-client".to_owned()])] {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        std::fs::write(certs.path().join(format!("{name}.pem")), params.signed_by(&key, &issuer).unwrap().pem()).unwrap();
        std::fs::write(certs.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
    let file = |name: &str| certs.path().join(name);
    let Some(rsyslog) = Rsyslog::start_with(Some((&file("ca.pem"), &file("server.pem"), &file("server.key"))), "x509/certvalid") else {
        return;
    };
    let fx = Fixture::new();
    let tls = json!({"tls": {"caFile": file("ca.pem"), "serverName": "localhost", "certFile": file("client.pem"), "keyFile": file("client.key")}});
    let config = fx.config_doc(&json!({"eventHandlers": [syslog_handler("TLS", rsyslog.tcp, tls)]}));
    let audit = AuditService::from_config_file(&config).unwrap();
    for n in 0..3 {
        audit.publish("access", json!({"_id": format!("mtls-{n}")})).unwrap();
    }
    audit.flush();
    let h = audit.shutdown().handlers[0].clone();
    assert_eq!((h.delivered, h.dead_lettered, h.output_error.as_deref()), (3, 0, None), "{h:?}");
    wait_for("the three messages at rsyslog", || {
        rsyslog.received().iter().filter(|r| r.params.1["_id"].as_str().starts_with("mtls-")).count() == 3
    });
}

#[test]
fn with_rsyslog_down_events_wait_in_the_journal_and_arrive_when_it_is_back() {
    let Some(mut rsyslog) = Rsyslog::start() else {
        return;
    };
    let fx = Fixture::new();
    let config = fx.config_doc(
        &json!({"eventHandlers": [syslog_handler("TCP", rsyslog.tcp, json!({"buffering": {"enabled": true, "maxSize": 50}}))]}),
    );
    let audit = AuditService::from_config_file(&config).unwrap();
    for n in 0..100 {
        audit.publish("access", json!({"_id": format!("before-{n}")})).unwrap();
    }
    wait_for("the first 100", || rsyslog.received().len() >= 100);
    rsyslog.stop();
    // Down: publishing goes on (the journal holds the events), nothing is
    // dead-lettered, the handler reports the output error.
    for n in 0..300 {
        audit.publish("access", json!({"_id": format!("during-{n}")})).unwrap();
    }
    wait_for("the output error", || audit.summary().handlers[0].output_error.is_some());
    // Down for a while: the handler keeps retrying with a backoff.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let h = audit.summary().handlers[0].clone();
    assert_eq!(h.dead_lettered, 0, "{h:?}");
    assert!(h.retries > 0, "{h:?}");
    rsyslog.run();
    for n in 0..100 {
        audit.publish("access", json!({"_id": format!("after-{n}")})).unwrap();
    }
    wait_for("every event at rsyslog", || {
        let ids: std::collections::BTreeSet<String> = rsyslog.received().iter().map(|r| r.params.1["_id"].clone()).collect();
        ids.len() == 500
    });
    audit.flush();
    let summary = audit.shutdown();
    let h = &summary.handlers[0];
    assert_eq!((h.delivered, h.dead_lettered, h.lost), (500, 0, 0), "{h:?}");
    assert!(h.output_error.is_none(), "{h:?}");
    let received = rsyslog.received();
    let duplicates = received.len() - 500;
    eprintln!("syslog outage: 500 events, {} received, {duplicates} duplicates, {} retries", received.len(), h.retries);
}

/// The seeds' syslog handler configurations, pointed at the local rsyslog
/// (their hosts are examples): they pass `wasp config check` and deliver.
#[test]
fn the_seed_syslog_handlers_run() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds");
    let mut ran = Vec::new();
    for name in ["001-1691-syslog-handler-example.json", "002-0189-syslog-handler-example.json"] {
        let mut handler: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let seed_host = handler["config"]["host"].as_str().unwrap().to_owned();
        handler["config"]["host"] = json!("127.0.0.1");
        handler["config"]["port"] = json!(rsyslog.tcp);
        let fx = Fixture::new();
        let config: PathBuf = fx.config_doc(&json!({"eventHandlers": [handler]}));
        let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
        assert!(out.status.success(), "{name}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let audit = AuditService::from_config_file(&config).unwrap();
        audit.publish("access", json!({"_id": format!("seed-{name}"), "response": {"status": "FAILED"}})).unwrap();
        audit.flush();
        assert_eq!(audit.shutdown().handlers[0].delivered, 1, "{name}");
        // The seed's own host (`https://syslogd.example.com` in one) is read as a host name.
        assert!(!seed_host.is_empty());
        ran.push(name);
    }
    wait_for("both seeds' messages", || rsyslog.received().len() == 2);
    assert_eq!(ran.len(), 2);
}

/// The seeds' two syslog usage templates (the same settings), every
/// setting filled in: severities mapped from `response/status`, delivered
/// to the local rsyslog.
#[test]
fn the_filled_syslog_usages_run() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let handler = json!({"class": "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler",
        "config": {"name": "usage", "topics": ["access"], "protocol": "TCP", "host": "127.0.0.1", "port": rsyslog.tcp,
                   "connectTimeout": 3000, "facility": "LOCAL3",
                   "buffering": {"enabled": true, "maxSize": 5000},
                   "severityFieldMappings": [{"topic": "access", "field": "response/status",
                                              "valueMappings": {"SUCCESSFUL": "INFORMATIONAL", "FAILED": "WARNING"}}]}});
    for template in ["001-1445-syslog-handler-usage.json", "002-0011-syslog-handler-usage.json"] {
        crate::seeds::assert_fills_template(template, &handler);
    }
    let fx = Fixture::new();
    let config: PathBuf = fx.config_doc(&json!({"eventHandlers": [handler]}));
    let out = wasp_tests::run_wasp(&["config", "check", config.to_str().unwrap()], None, fx.path());
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let audit = AuditService::from_config_file(&config).unwrap();
    audit.publish("access", json!({"_id": "u-ok", "response": {"status": "SUCCESSFUL"}})).unwrap();
    audit.publish("access", json!({"_id": "u-failed", "response": {"status": "FAILED"}})).unwrap();
    audit.flush();
    assert_eq!(audit.shutdown().handlers[0].delivered, 2);
    wait_for("both messages", || rsyslog.received().len() == 2);
    let pris: Vec<u16> = rsyslog.received().iter().map(|r| r.pri).collect();
    assert_eq!(pris, [19 * 8 + 6, 19 * 8 + 4], "local3 (19), INFORMATIONAL (6) and WARNING (4)");
}

/// A WASM handler's `syslog` output: its own line format as the MSG of each
/// message, with the header the output's settings give.
#[test]
fn a_wasm_handler_writes_its_own_lines_to_syslog() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let fx = Fixture::new();
    let handler = wasp_tests::probe_handler(
        "probe",
        json!({"outputs": {"out": {"type": "syslog", "host": "127.0.0.1", "port": rsyslog.tcp, "facility": "auth",
                                   "severity": "notice", "appName": "probe", "msgId": "AUDIT"}}}),
    );
    let audit = AuditService::from_config_file(fx.config(&[handler])).unwrap();
    for n in 0..3 {
        audit.publish("access", json!({"_id": format!("w{n}")})).unwrap();
    }
    audit.flush();
    assert_eq!(audit.shutdown().handlers[0].delivered, 3);
    wait_for("three messages", || rsyslog.received().len() == 3);
    for (n, r) in rsyslog.received().iter().enumerate() {
        assert_eq!((r.pri, r.app.as_str(), r.msgid.as_str()), (4 * 8 + 5, "probe", "AUDIT"), "{r:?}");
        let line: Value = serde_json::from_str(&r.msg).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        assert_eq!(line["id"], format!("w{n}"), "the probe's own line: {r:?}");
    }
    // Bad settings are named at the configuration.
    let bad = wasp_tests::probe_handler(
        "probe",
        json!({"outputs": {"out": {"type": "syslog", "host": "127.0.0.1", "port": 514, "facility": "local9"}}}),
    );
    let e = AuditService::from_config_file(fx.config(&[bad])).err().unwrap().to_string();
    assert!(e.contains("outputs.out") && e.contains("facility: `local9`"), "{e}");
}
