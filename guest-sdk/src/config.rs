//! The handler's own settings, as given under `config` in the WASP
//! configuration.

use serde::de::DeserializeOwned;

/// The handler's `config` object from the WASP configuration.
#[derive(Debug, Clone)]
pub struct Config {
    raw: String,
    value: serde_json::Value,
}

impl Config {
    /// Parses the JSON text the host passes to `init`.
    pub(crate) fn parse(raw: String) -> Result<Self, String> {
        let value = if raw.trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(&raw).map_err(|e| format!("handler config is not JSON: {e}"))?
        };
        Ok(Config { raw, value })
    }

    /// The configuration as JSON text.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The configuration as a JSON value (an object; `{}` when none was given).
    pub fn json(&self) -> &serde_json::Value {
        &self.value
    }

    /// The value at a JSON pointer (`/a/b/0`), if present.
    pub fn get(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.value.pointer(pointer)
    }

    /// Deserializes the whole configuration into `T`, with an error message
    /// naming what did not fit.
    pub fn parse_into<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(self.value.clone()).map_err(|e| format!("handler config: {e}"))
    }
}
