//! `crate::Error` -> Python exceptions (`kerasave.errors` plus the built-in OS errors).
//!
//! ```text
//! Corrupt          -> kerasave.errors.CorruptFileError
//! Unsupported      -> kerasave.errors.UnsupportedFormatError
//! KeyNotFound      -> KeyError             (message names the key and the file)
//! InvalidArgument  -> ValueError
//! Io NotFound      -> FileNotFoundError(errno, strerror, filename)
//! Io PermissionDen -> PermissionError(errno, strerror, filename)
//! other Io         -> OSError(errno, strerror, filename)
//! ```
//! The message is always the Rust `Display`, which already names the file and key.

use std::io;

use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyError, PyOSError, PyPermissionError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::error::Error;

const ERRORS_MODULE: &str = "kerasave.errors";

static CORRUPT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNSUPPORTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static WARNING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `kerasave.errors.KerasaveWarning`, imported once.
pub(crate) fn warning_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    WARNING.import(py, ERRORS_MODULE, "KerasaveWarning")
}

/// An instance of the `kerasave.errors` class `name` (cached in `cell`), or the import error.
fn kerasave_error(py: Python<'_>, cell: &PyOnceLock<Py<PyType>>, name: &str, msg: String) -> PyErr {
    match cell.import(py, ERRORS_MODULE, name) {
        Ok(ty) => PyErr::from_type(ty.clone(), msg),
        Err(import_error) => import_error,
    }
}

/// Converts a crate error; see the module doc for the mapping.
pub(crate) fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    let msg = err.to_string();
    #[allow(unreachable_patterns)] // `Error` is #[non_exhaustive]: new variants map to the base.
    match err {
        Error::Corrupt { .. } => kerasave_error(py, &CORRUPT, "CorruptFileError", msg),
        Error::Unsupported { .. } => {
            kerasave_error(py, &UNSUPPORTED, "UnsupportedFormatError", msg)
        }
        Error::KeyNotFound { .. } => PyKeyError::new_err(msg),
        Error::InvalidArgument(_) => PyValueError::new_err(msg),
        Error::Io { path, source } => io_error(&path, &source, msg),
        _ => kerasave_error(py, &BASE, "KerasaveError", msg),
    }
}

/// `OSError(errno, strerror, filename)`, so Python fills `.errno`, `.strerror` and `.filename`.
fn io_error(path: &std::path::Path, source: &io::Error, msg: String) -> PyErr {
    let filename = path.as_os_str().to_os_string();
    let strerror = strip_os_error_suffix(&source.to_string());
    let errno = source.raw_os_error();
    match source.kind() {
        // ENOENT and EACCES are 2 and 13 on every platform Python runs on.
        io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err((errno.unwrap_or(2), strerror, filename))
        }
        io::ErrorKind::PermissionDenied => {
            PyPermissionError::new_err((errno.unwrap_or(13), strerror, filename))
        }
        _ => match errno {
            Some(errno) => PyOSError::new_err((errno, strerror, filename)),
            None => PyOSError::new_err(msg),
        },
    }
}

/// `"No such file or directory (os error 2)"` -> `"No such file or directory"` (Python adds the
/// errno itself).
fn strip_os_error_suffix(s: &str) -> String {
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s.to_owned(),
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        // Cheap when the caller is already attached, which is every call site in this module.
        Python::attach(|py| to_pyerr(py, err))
    }
}
