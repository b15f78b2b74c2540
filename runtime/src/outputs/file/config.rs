//! Settings of the `file` output.

use std::path::{Component, PathBuf};

use serde::Deserialize;

use crate::outputs::SettingError;

/// `{"type": "file", "path": "audit.log"}`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileConfig {
    /// The file, relative to the handler's output directory (the handler's
    /// `directory`, by default `<dataDirectory>/<handler name>`). Absolute
    /// paths and `..` are refused: a handler writes only inside its own
    /// directory. Missing directories are created.
    pub path: PathBuf,
}

impl FileConfig {
    pub(crate) fn validate(&self) -> Result<(), SettingError> {
        if self.path.as_os_str().is_empty() {
            return Err(SettingError::new("path", "must not be empty"));
        }
        for part in self.path.components() {
            match part {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => {
                    return Err(SettingError::new("path", format!("`{}` must not contain `..`", self.path.display())));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(SettingError::new(
                        "path",
                        format!("`{}` must be relative to the handler's directory", self.path.display()),
                    ));
                }
            }
        }
        Ok(())
    }
}
