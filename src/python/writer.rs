//! What `H5Writer` and `ArchiveWriter` share: a Rust writer driven through `&self` from Python
//! (the classes are `frozen`), finished or aborted exactly once, and usable as a context manager.
//!
//! ```text
//! Py*Writer { slot: WriterSlot<W> }      W: FinishOnce (H5Writer, ArchiveWriter)
//!   WriterSlot = Mutex<Option<W>> + path; None once finished or aborted
//!   finish_once_writer!(PyX, W, ...)    the #[pymethods] block: new, path, <the class's own
//!                                       methods>, finish, abort, __enter__, __exit__, __repr__
//! ```
//! One `#[pymethods]` block per class is all PyO3 allows without `multiple-pymethods`, so the
//! shared methods come from a macro that also takes the class's own methods.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::Error;

/// A writer that writes to a temp file and renames it into place when finished; dropping it
/// unfinished leaves the target untouched.
pub(crate) trait FinishOnce: Sized + Send {
    /// The Python class name, for messages and `repr`.
    const PY_NAME: &'static str;
    fn create(path: &Path) -> Result<Self, Error>;
    /// Whether `finish` syncs before the rename (Python's `fsync=`).
    fn set_durable(&mut self, durable: bool);
    fn finish(self) -> Result<(), Error>;
}

/// The writer behind a Python object: `Some` until finished or aborted.
pub(crate) struct WriterSlot<W> {
    inner: Mutex<Option<W>>,
    path: PathBuf,
}

impl<W: FinishOnce> WriterSlot<W> {
    /// Creates the writer (GIL released); `fsync`: sync before the rename.
    pub(crate) fn create(py: Python<'_>, path: PathBuf, fsync: bool) -> PyResult<Self> {
        let mut writer = py.detach(|| W::create(&path))?;
        writer.set_durable(fsync);
        Ok(Self::from_writer(writer, path))
    }

    /// Wraps a writer made elsewhere (an HDF5 member written inside an archive).
    pub(crate) fn from_writer(writer: W, path: PathBuf) -> Self {
        WriterSlot {
            inner: Mutex::new(Some(writer)),
            path,
        }
    }

    /// Takes the open writer out (None if finished or aborted).
    pub(crate) fn take(&self) -> Option<W> {
        self.lock().take()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Option<W>> {
        // A panic while writing poisons nothing we rely on: the writer is poisoned by its own
        // error handling, and finish() refuses a half-written member.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finished(&self) -> PyErr {
        PyValueError::new_err(format!(
            "{} for {} is already finished or aborted",
            W::PY_NAME,
            self.path.display()
        ))
    }

    /// Runs `f` on the open writer with the GIL released.
    pub(crate) fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut W) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        py.detach(|| match self.lock().as_mut() {
            Some(w) => f(w).map_err(PyErr::from),
            None => Err(self.finished()),
        })
    }

    pub(crate) fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let writer = self.lock().take().ok_or_else(|| self.finished())?;
        py.detach(|| writer.finish())?;
        Ok(())
    }

    pub(crate) fn abort(&self, py: Python<'_>) {
        let writer = self.lock().take();
        if let Some(writer) = writer {
            py.detach(|| drop(writer));
        }
    }

    /// `__exit__`: an exception aborts, a normal exit finishes (unless already done).
    pub(crate) fn exit(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if exc_type.is_some_and(|t| !t.is_none()) {
            self.abort(py);
        } else if self.lock().is_some() {
            self.finish(py)?;
        }
        Ok(false)
    }

    pub(crate) fn repr(&self) -> String {
        format!("<{} {:?}>", W::PY_NAME, self.path)
    }
}

/// A writer class: `pub struct $class { slot: WriterSlot<$writer> }` as Python class `$py_name`
/// (the attributes before `pub struct` become its docstring), `FinishOnce` for `$writer` (its
/// own `create`/`finish`), and the `#[pymethods]` block: the shared methods around the class's
/// own ones. `finish`/`abort` are the docstrings of those two methods.
macro_rules! finish_once_writer {
    (
        $(#[$meta:meta])*
        pub struct $class:ident($writer:ty) as $py_name:tt;
        finish = $finish_doc:literal;
        abort = $abort_doc:literal;
        methods { $($methods:tt)* }
    ) => {
        $(#[$meta])*
        #[pyclass(frozen, module = "kerasave._core", name = $py_name)]
        pub struct $class {
            pub(crate) slot: $crate::python::writer::WriterSlot<$writer>,
        }

        impl $crate::python::writer::FinishOnce for $writer {
            const PY_NAME: &'static str = $py_name;

            fn create(
                path: &::std::path::Path,
            ) -> ::std::result::Result<Self, $crate::error::Error> {
                <$writer>::create(path)
            }

            fn set_durable(&mut self, durable: bool) {
                <$writer>::set_durable(self, durable)
            }

            fn finish(self) -> ::std::result::Result<(), $crate::error::Error> {
                <$writer>::finish(self)
            }
        }

        #[pymethods]
        impl $class {
            #[new]
            #[pyo3(signature = (path, fsync = true))]
            fn new(py: Python<'_>, path: PathBuf, fsync: bool) -> PyResult<Self> {
                Ok($class {
                    slot: $crate::python::writer::WriterSlot::create(py, path, fsync)?,
                })
            }

            /// The target path.
            #[getter]
            fn path(&self) -> PathBuf {
                self.slot.path().to_path_buf()
            }

            $($methods)*

            #[doc = $finish_doc]
            fn finish(&self, py: Python<'_>) -> PyResult<()> {
                self.slot.finish(py)
            }

            #[doc = $abort_doc]
            fn abort(&self, py: Python<'_>) {
                self.slot.abort(py)
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (exc_type, _exc = None, _tb = None))]
            fn __exit__(
                &self,
                py: Python<'_>,
                exc_type: Option<&Bound<'_, PyAny>>,
                _exc: Option<&Bound<'_, PyAny>>,
                _tb: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<bool> {
                self.slot.exit(py, exc_type)
            }

            fn __repr__(&self) -> String {
                self.slot.repr()
            }
        }
    };
}

pub(crate) use finish_once_writer;
