//! The one error type of the crate.
//!
//! Every failure that comes from file contents is [`Error::Corrupt`] or [`Error::Unsupported`] and
//! names the file and, where there is one, the key. Parsers that only see a byte slice leave the
//! file empty and the caller attaches it with [`Error::in_file`], so the parsers stay pure.
//! The Python bindings map each variant onto the `kerasave.errors` hierarchy.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Crate-wide result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in which file something went wrong; both parts are optional.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Option<PathBuf>,
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.key) {
            (Some(file), Some(key)) => write!(f, "{}: key {key:?}: ", file.display()),
            (Some(file), None) => write!(f, "{}: ", file.display()),
            (None, Some(key)) => write!(f, "key {key:?}: "),
            (None, None) => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed, truncated, checksum mismatch, sizes that do not add up, absurd shapes.
    #[error("{at}{detail}")]
    Corrupt { at: Location, detail: String },
    /// A well-formed file of a kind or version that is not handled.
    #[error("{at}unsupported: {detail}")]
    Unsupported { at: Location, detail: String },
    /// An operating-system error on a named path (missing file, permission, disk full).
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The caller passed something unusable (bad key order, mismatched sizes, unknown key).
    #[error("{0}")]
    InvalidArgument(String),
    /// A key that the file does not contain.
    #[error("{at}not found")]
    KeyNotFound { at: Location },
}

impl Error {
    /// A corruption with no file attached yet (the caller adds it with [`Error::in_file`]).
    pub fn corrupt(detail: impl Into<String>) -> Self {
        Error::Corrupt {
            at: Location::default(),
            detail: detail.into(),
        }
    }

    /// An unsupported feature with no file attached yet.
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Error::Unsupported {
            at: Location::default(),
            detail: detail.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Attaches the file, unless one is already named.
    pub fn in_file(mut self, path: &Path) -> Self {
        if let Some(at) = self.location_mut() {
            at.file.get_or_insert_with(|| path.to_path_buf());
        }
        self
    }

    /// Attaches the key (lossily decoded for display), unless one is already named.
    pub fn for_key(mut self, key: &[u8]) -> Self {
        if let Some(at) = self.location_mut() {
            at.key.get_or_insert_with(|| display_key(key));
        }
        self
    }

    fn location_mut(&mut self) -> Option<&mut Location> {
        match self {
            Error::Corrupt { at, .. }
            | Error::Unsupported { at, .. }
            | Error::KeyNotFound { at } => Some(at),
            Error::Io { .. } | Error::InvalidArgument(_) => None,
        }
    }
}

/// Keys are bytes; slice keys hold NULs and non-UTF-8. Show them readably without losing them.
pub fn display_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) => s.to_owned(),
        Err(_) => key.escape_ascii().to_string(),
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::corrupt(format!("bad protobuf: {e}"))
    }
}

/// Shorthand: `ensure!(cond, "detail {}", x)` returns `Error::corrupt` when `cond` is false.
#[macro_export]
macro_rules! ensure_corrupt {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::error::Error::corrupt(format!($($arg)+)));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_file_and_key() {
        let e = Error::corrupt("bad magic")
            .for_key(b"w")
            .in_file(Path::new("/x/ckpt.index"));
        assert_eq!(e.to_string(), "/x/ckpt.index: key \"w\": bad magic");
    }

    #[test]
    fn non_utf8_keys_are_escaped() {
        assert_eq!(display_key(b"\x00ab\xff"), "\\x00ab\\xff");
    }
}
