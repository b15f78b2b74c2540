//! Secrets: passwords and tokens read from secret stores instead of being
//! written in the configuration, as PingGateway does it.
//!
//! Any setting `X` of any object (a handler's `password`, `authzToken`, a
//! header of an HTTP output, a data source's `password`) may instead be
//! given as `XSecretId`: the id of a secret, looked up in the store the same
//! object names with `secretsProvider` (a store's name, or an inline store
//! object), or else in the default store, a `SystemAndEnvSecretStore`.
//! The secret then becomes the value of `X`; `XSecretId` and
//! `secretsProvider` are removed. Giving both `X` and `XSecretId` is an
//! error.
//!
//! Stores are declared as PingGateway heap objects, `{"name": "…", "type":
//! "…", "config": {…}}`, in a route's `heap` or in `wasp.secretStores`:
//!
//! - `SystemAndEnvSecretStore`: the secret `database.password` is the
//!   property of that name (properties files given with `--properties`,
//!   the configuration's `properties`), else the environment variable
//!   `DATABASE_PASSWORD` (upper-cased, `.` turned into `_`).
//! - `FileSystemSecretStore`: the secret is the content of the file named
//!   by its id (plus `suffix`) in `directory` (relative to the
//!   configuration file); a trailing newline is not part of it.
//!
//! Both read `format` `BASE64` (the default, as in PingGateway: the stored
//! value is the Base64 encoding of the secret) or `PLAIN`. A missing
//! secret, an unknown store or an undecodable value is an error naming the
//! setting, the secret id and the store, never the value. Secrets are
//! never logged: the settings that hold them print without them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::expr::Properties;

/// How a store keeps its secrets.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    /// The Base64 encoding of the secret (PingGateway's default).
    Base64,
    /// The secret as it is.
    Plain,
}

/// One secret store.
#[derive(Debug, Clone, PartialEq)]
enum Store {
    SystemAndEnv { format: Format },
    FileSystem { directory: PathBuf, suffix: String, format: Format },
}

/// The secret stores a configuration declares, by name.
#[derive(Debug, Clone, Default)]
pub struct SecretStores {
    stores: BTreeMap<String, Store>,
}

/// The heap object types that are secret stores.
pub fn is_store(object: &Value) -> bool {
    matches!(object.get("type").and_then(Value::as_str), Some("SystemAndEnvSecretStore" | "FileSystemSecretStore"))
}

impl SecretStores {
    /// Reads the store objects (`at` gives each one's path for errors);
    /// relative directories resolve against `base_dir`.
    pub fn from_objects<'a>(
        objects: impl IntoIterator<Item = (String, &'a Value)>,
        base_dir: &Path,
    ) -> Result<SecretStores, (String, String)> {
        let mut stores = SecretStores::default();
        for (at, object) in objects {
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| (format!("{at}.name"), "a secret store needs a `name` to be referred to by `secretsProvider`".to_owned()))?;
            let store = read_store(object, &at, base_dir)?;
            if stores.stores.insert(name.to_owned(), store).is_some() {
                return Err((format!("{at}.name"), format!("a second secret store is named `{name}`")));
            }
        }
        Ok(stores)
    }

    /// Replaces every `XSecretId` in `value` by `X` holding the secret (see
    /// the module docs); `at` is `value`'s JSON path for errors.
    pub fn resolve(&self, value: &mut Value, at: &str, properties: &Properties, base_dir: &Path) -> Result<(), (String, String)> {
        match value {
            Value::Object(map) => {
                self.resolve_object(map, at, properties, base_dir)?;
                for (k, v) in map.iter_mut() {
                    self.resolve(v, &join(at, k), properties, base_dir)?;
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.resolve(v, &format!("{at}[{i}]"), properties, base_dir)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn resolve_object(
        &self,
        map: &mut Map<String, Value>,
        at: &str,
        properties: &Properties,
        base_dir: &Path,
    ) -> Result<(), (String, String)> {
        let ids: Vec<String> = map.keys().filter(|k| k.len() > "SecretId".len() && k.ends_with("SecretId")).cloned().collect();
        if ids.is_empty() {
            return Ok(());
        }
        let (store, store_name) = match map.get("secretsProvider") {
            None => (Store::SystemAndEnv { format: Format::Base64 }, "the default SystemAndEnvSecretStore".to_owned()),
            Some(Value::String(name)) => match self.stores.get(name) {
                Some(store) => (store.clone(), format!("the secret store `{name}`")),
                None => {
                    let known: Vec<String> = self.stores.keys().map(|k| format!("`{k}`")).collect();
                    let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                    return Err((
                        join(at, "secretsProvider"),
                        format!("no secret store is named `{name}` (declared in the heap or in wasp.secretStores: {known})"),
                    ));
                }
            },
            Some(inline @ Value::Object(_)) => {
                (read_store(inline, &join(at, "secretsProvider"), base_dir)?, "the inline secret store".to_owned())
            }
            Some(_) => return Err((join(at, "secretsProvider"), "must name a secret store or be a secret store object".to_owned())),
        };
        for key in ids {
            let setting = key.trim_end_matches("SecretId").to_owned();
            let here = join(at, &key);
            let Some(Value::String(id)) = map.remove(&key) else {
                return Err((here, "a secret id must be a string".to_owned()));
            };
            if map.contains_key(&setting) {
                return Err((here, format!("`{setting}` is also given: set the secret or its id, not both")));
            }
            let secret =
                lookup(&store, &id, properties).map_err(|m| (here.clone(), format!("the secret `{id}` from {store_name}: {m}")))?;
            map.insert(setting, Value::String(secret));
        }
        map.remove("secretsProvider");
        Ok(())
    }
}

fn read_store(object: &Value, at: &str, base_dir: &Path) -> Result<Store, (String, String)> {
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    let empty = Map::new();
    let config = match object.get("config") {
        None => &empty,
        Some(Value::Object(c)) => c,
        Some(_) => return Err((format!("{at}.config"), "must be an object".to_owned())),
    };
    let text = |key: &str| -> Result<Option<&str>, (String, String)> {
        match config.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err((format!("{at}.config.{key}"), "must be a string".to_owned())),
        }
    };
    let format = match text("format")? {
        None => Format::Base64,
        Some(f) if f.eq_ignore_ascii_case("BASE64") => Format::Base64,
        Some(f) if f.eq_ignore_ascii_case("PLAIN") => Format::Plain,
        Some(other) => {
            return Err((format!("{at}.config.format"), format!("`{other}` is not a secret format (BASE64 or PLAIN)")));
        }
    };
    let allowed: &[&str] = match kind {
        "SystemAndEnvSecretStore" => &["format"],
        "FileSystemSecretStore" => &["format", "directory", "suffix"],
        other => {
            return Err((
                format!("{at}.type"),
                format!("`{other}` is not a secret store WASP reads (SystemAndEnvSecretStore, FileSystemSecretStore)"),
            ));
        }
    };
    if let Some(unknown) = config.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err((format!("{at}.config.{unknown}"), format!("not a setting of a {kind} (settings: {})", allowed.join(", "))));
    }
    Ok(match kind {
        "SystemAndEnvSecretStore" => Store::SystemAndEnv { format },
        _ => {
            let directory = text("directory")?
                .ok_or_else(|| (format!("{at}.config.directory"), "required: the directory holding one file per secret".to_owned()))?;
            Store::FileSystem { directory: base_dir.join(directory), suffix: text("suffix")?.unwrap_or("").to_owned(), format }
        }
    })
}

/// The secret `id` from `store`; the error never holds the value.
fn lookup(store: &Store, id: &str, properties: &Properties) -> Result<String, String> {
    let (stored, format) = match store {
        Store::SystemAndEnv { format } => {
            let variable = id.replace('.', "_").to_ascii_uppercase();
            let value =
                properties.get(id).ok_or_else(|| format!("not found (no property `{id}`, no environment variable `{variable}`)"))?;
            (value, *format)
        }
        Store::FileSystem { directory, suffix, format } => {
            if id.is_empty() || id.contains(['/', '\\']) || id == "." || id == ".." {
                return Err("a secret id of a FileSystemSecretStore is a file name (no `/`, not `..`)".to_owned());
            }
            let path = directory.join(format!("{id}{suffix}"));
            let mut value = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            while value.ends_with('\n') || value.ends_with('\r') {
                value.pop();
            }
            (value, *format)
        }
    };
    match format {
        Format::Plain => Ok(stored),
        Format::Base64 => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(stored.trim()).map_err(|_| {
                "the stored value is not Base64 (the store's `format` is BASE64, its default; set it to PLAIN for plain text)".to_owned()
            })?;
            String::from_utf8(bytes).map_err(|_| "the decoded secret is not UTF-8 text".to_owned())
        }
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(stores: &SecretStores, mut value: Value) -> Result<Value, (String, String)> {
        stores.resolve(&mut value, "", &Properties::default(), Path::new("/"))?;
        Ok(value)
    }

    #[test]
    fn system_and_env_reads_base64_by_default_and_plain_when_told() {
        // SAFETY: test-only; unique variable names no other test reads.
        unsafe { std::env::set_var("WASP_TEST_SECRET_A_PASSWORD", "czNjcjN0") };
        let stores = SecretStores::from_objects(
            [("heap[0]".to_owned(), &json!({"name": "plain", "type": "SystemAndEnvSecretStore", "config": {"format": "PLAIN"}}))],
            Path::new("/"),
        )
        .unwrap();
        let got = resolve(&stores, json!({"connection": {"passwordSecretId": "wasp.test.secret.a.password"}})).unwrap();
        assert_eq!(got, json!({"connection": {"password": "s3cr3t"}}));
        let got = resolve(&stores, json!({"passwordSecretId": "wasp.test.secret.a.password", "secretsProvider": "plain"})).unwrap();
        assert_eq!(got, json!({"password": "czNjcjN0"}));
    }

    #[test]
    fn file_system_store_reads_one_file_per_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hec.token.txt"), "abc-123\n").unwrap();
        let store = json!({"name": "files", "type": "FileSystemSecretStore", "config": {"directory": dir.path(), "format": "PLAIN", "suffix": ".txt"}});
        let stores = SecretStores::from_objects([("wasp.secretStores[0]".to_owned(), &store)], Path::new("/")).unwrap();
        let got = resolve(&stores, json!({"authzTokenSecretId": "hec.token", "secretsProvider": "files"})).unwrap();
        assert_eq!(got, json!({"authzToken": "abc-123"}));
        let (at, message) =
            resolve(&stores, json!({"h": {"authzTokenSecretId": "../etc/passwd", "secretsProvider": "files"}})).unwrap_err();
        assert_eq!(at, "h.authzTokenSecretId");
        assert!(message.contains("file name"), "{message}");
    }

    #[test]
    fn errors_name_the_setting_the_id_and_the_store_never_the_value() {
        // SAFETY: test-only; unique variable names no other test reads.
        unsafe { std::env::set_var("WASP_TEST_SECRET_B", "not base64 !!") };
        let stores = SecretStores::default();
        let (at, message) = resolve(&stores, json!({"c": {"passwordSecretId": "wasp.test.secret.b"}})).unwrap_err();
        assert_eq!(at, "c.passwordSecretId");
        assert!(message.contains("`wasp.test.secret.b`") && message.contains("Base64"), "{message}");
        assert!(!message.contains("not base64 !!"), "{message}");
        let (at, message) = resolve(&stores, json!({"passwordSecretId": "wasp.test.secret.missing"})).unwrap_err();
        assert_eq!(at, "passwordSecretId");
        assert!(message.contains("WASP_TEST_SECRET_MISSING"), "{message}");
        let (_, message) = resolve(&stores, json!({"passwordSecretId": "x", "secretsProvider": "nope"})).unwrap_err();
        assert!(message.contains("no secret store is named `nope`"), "{message}");
        let (_, message) = resolve(&stores, json!({"password": "p", "passwordSecretId": "x"})).unwrap_err();
        assert!(message.contains("not both"), "{message}");
        let bad = json!({"name": "k", "type": "KeyStoreSecretStore"});
        let (at, message) = SecretStores::from_objects([("heap[1]".to_owned(), &bad)], Path::new("/")).unwrap_err();
        assert_eq!(at, "heap[1].type");
        assert!(message.contains("KeyStoreSecretStore"), "{message}");
    }
}
