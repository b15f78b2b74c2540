//! Settings of the `stdout` output.

use serde::Deserialize;

/// `{"type": "stdout"}` — no settings yet.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {}
