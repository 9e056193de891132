//! [`H5Writer`]: HDF5 files as h5py writes them for Keras, atomically.
//!
//! Layout choices follow h5py's defaults, which is what every Keras/tf_keras file has:
//! superblock v0 and symbol-table groups (libver bounds `earliest`), contiguous unfiltered
//! datasets, no object timestamps (deterministic bytes), file close degree STRONG. Each dataset
//! is one `H5Dwrite` from the caller's bytes with identical memory and file types, so libhdf5
//! does no conversion and writes the data with a single `pwrite` through the sec2 driver.

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hdf5_metno_sys::h5::hsize_t;
use hdf5_metno_sys::h5d;
use hdf5_metno_sys::h5f::{self, H5F_close_degree_t, H5F_libver_t, H5F_ACC_EXCL};
use hdf5_metno_sys::h5g;
use hdf5_metno_sys::h5l;
use hdf5_metno_sys::h5o::{self, H5O_type_t, H5O_INFO_BASIC};
use hdf5_metno_sys::h5p::{self, H5P_DEFAULT};
use hdf5_metno_sys::h5s::{self, H5S_class_t, H5S_ALL};

use super::attrs::{self, array_split_sizes, chunk_plan, write_error};
use super::handle::{check, cstring, locked, stack_message, Hid, Kind};
use super::types::{self, is_opaque_dtype};
use super::{normalize_path, AttrValue};
use crate::dtype::DType;
use crate::error::{Error, Result};

/// Writes an HDF5 file to a temp file beside the target, renamed over it by [`H5Writer::finish`].
/// Dropped unfinished, it removes the temp file and leaves the target untouched.
#[derive(Debug)]
pub struct H5Writer {
    // Closed before the temp file is removed or renamed.
    fid: Option<Hid>,
    gcpl: Hid,
    dcpl: Hid,
    target: PathBuf,
    temp: PathBuf,
    done: bool,
    /// Sync before the rename (see [`H5Writer::set_durable`]).
    durable: bool,
    /// Writing another writer's file: no temp, no rename, nothing removed on drop.
    in_place: bool,
}

fn io_error(path: &Path, what: &str) -> Error {
    Error::io(
        path,
        io::Error::other(format!("{what}: {}", stack_message())),
    )
}

/// An object-creation property list without timestamps (h5py's `track_times=False`).
fn no_times(class: hdf5_metno_sys::h5i::hid_t) -> Result<Hid> {
    // SAFETY: creating a property list of a valid class.
    let p = Hid::new(unsafe { h5p::H5Pcreate(class) }, Kind::Plist, "H5Pcreate")?;
    // SAFETY: object-creation property list (group, dataset or file creation).
    check(
        unsafe { h5p::H5Pset_obj_track_times(p.id(), 0) },
        "H5Pset_obj_track_times",
    )?;
    Ok(p)
}

impl H5Writer {
    /// Starts writing `path` (its directory must exist): superblock v0, like h5py.
    pub fn create(path: &Path) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = path.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!("not a file path: {}", path.display()))
        })?;
        let mut temp_name = name.to_os_string();
        temp_name.push(format!(
            ".tmp-{}-h5-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = path.with_file_name(temp_name);
        // Create it ourselves first so a missing directory or a permission problem is a proper
        // io::Error (NotFound, PermissionDenied) rather than a libhdf5 message; then remove it so
        // libhdf5 creates the file (H5F_ACC_EXCL) instead of truncating it: on ext4 a file
        // truncated and rewritten is flushed when closed (`auto_da_alloc`), as costly as a sync.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io(&temp, e))?;
        fs::remove_file(&temp).map_err(|e| Error::io(&temp, e))?;
        Self::open_with(path, temp, 0, false)
    }

    /// Creates `path` (which must not exist: libhdf5 creates it exclusively), the HDF5 data
    /// starting at `userblock` (a power of two, at least 512; libhdf5 leaves the bytes before
    /// it zero and records the offset as the superblock's base address). No temp file, no
    /// rename, no sync:
    /// [`H5Writer::finish`] only closes, and dropping it unfinished leaves the file to its owner.
    /// This is how a `.keras` gets its weights member written in place inside the archive's own
    /// temp file ([`crate::archive::ArchiveWriter::begin_external`]).
    pub fn create_in_place(path: &Path, userblock: u64) -> Result<Self> {
        if userblock != 0 && (userblock < 512 || !userblock.is_power_of_two()) {
            return Err(Error::InvalidArgument(format!(
                "HDF5 userblock {userblock} is not 0 or a power of two >= 512"
            )));
        }
        Self::open_with(path, path.to_path_buf(), userblock, true)
    }

    /// Whether [`H5Writer::finish`] syncs the file before renaming it (default on). Off, the
    /// write is still atomic (temp file + rename) but not durable across a power cut, like
    /// h5py's and Keras's.
    pub fn set_durable(&mut self, on: bool) {
        self.durable = on;
    }

    fn open_with(path: &Path, temp: PathBuf, userblock: u64, in_place: bool) -> Result<Self> {
        let ctemp = match temp.to_str().map(CString::new) {
            Some(Ok(c)) => c,
            _ => {
                let _ = fs::remove_file(&temp);
                return Err(Error::InvalidArgument(format!(
                    "HDF5 needs a UTF-8 path without NUL: {}",
                    temp.display()
                )));
            }
        };
        let made = locked(|| -> Result<(Hid, Hid, Hid)> {
            use hdf5_metno::globals as g;
            // SAFETY: creating a property list of a valid class.
            let fapl = Hid::new(
                unsafe { h5p::H5Pcreate(*g::H5P_FILE_ACCESS) },
                Kind::Plist,
                "H5Pcreate",
            )?;
            // SAFETY: fapl is a file-access list; these are h5py's settings.
            unsafe {
                check(
                    h5p::H5Pset_fclose_degree(fapl.id(), H5F_close_degree_t::H5F_CLOSE_STRONG),
                    "H5Pset_fclose_degree",
                )?;
                check(
                    h5p::H5Pset_libver_bounds(
                        fapl.id(),
                        H5F_libver_t::H5F_LIBVER_EARLIEST,
                        H5F_libver_t::H5F_LIBVER_V18,
                    ),
                    "H5Pset_libver_bounds",
                )?;
            }
            let fcpl = no_times(*g::H5P_FILE_CREATE)?;
            if userblock != 0 {
                // SAFETY: file-creation list; the size was checked to be a power of two >= 512.
                check(
                    unsafe { h5p::H5Pset_userblock(fcpl.id(), userblock) },
                    "H5Pset_userblock",
                )?;
            }
            let gcpl = no_times(*g::H5P_GROUP_CREATE)?;
            let dcpl = no_times(*g::H5P_DATASET_CREATE)?;
            // SAFETY: NUL-terminated path, valid property lists.
            let fid = unsafe { h5f::H5Fcreate(ctemp.as_ptr(), H5F_ACC_EXCL, fcpl.id(), fapl.id()) };
            if fid < 0 {
                return Err(io_error(&temp, "cannot create HDF5 file"));
            }
            Ok((Hid::new(fid, Kind::File, "H5Fcreate")?, gcpl, dcpl))
        });
        match made {
            Ok((fid, gcpl, dcpl)) => Ok(H5Writer {
                fid: Some(fid),
                gcpl,
                dcpl,
                target: path.to_path_buf(),
                temp,
                done: false,
                durable: true,
                in_place,
            }),
            Err(e) => {
                if !in_place {
                    let _ = fs::remove_file(&temp);
                }
                Err(e)
            }
        }
    }

    fn fid(&self) -> Result<hdf5_metno_sys::h5i::hid_t> {
        self.fid
            .as_ref()
            .map(Hid::id)
            .ok_or_else(|| Error::InvalidArgument("HDF5 writer already finished".into()))
    }

    /// Creates the group at `path` and any missing parents; existing groups are fine.
    pub fn create_group(&mut self, path: &str) -> Result<()> {
        let p = normalize_path(path)?;
        locked(|| self.ensure_group(&p))
    }

    fn ensure_group(&self, p: &str) -> Result<()> {
        let fid = self.fid()?;
        let mut prefix = String::new();
        for part in p.split('/').filter(|s| !s.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            let c = cstring(&prefix)?;
            // SAFETY: valid file id, NUL-terminated path whose parents exist (built in order).
            let exists = unsafe { h5l::H5Lexists(fid, c.as_ptr(), H5P_DEFAULT) };
            if exists < 0 {
                return Err(write_error(super::handle::corrupt(&prefix)));
            }
            if exists > 0 {
                let mut info = super::handle::zeroed_obj_info();
                // SAFETY: as above; local out-parameter.
                check(
                    unsafe {
                        h5o::H5Oget_info_by_name3(
                            fid,
                            c.as_ptr(),
                            &mut info,
                            H5O_INFO_BASIC,
                            H5P_DEFAULT,
                        )
                    },
                    &prefix,
                )
                .map_err(write_error)?;
                if info.type_ != H5O_type_t::H5O_TYPE_GROUP {
                    return Err(Error::InvalidArgument(format!(
                        "{prefix} exists and is not a group"
                    )));
                }
                continue;
            }
            // SAFETY: as above; the group id is closed by the guard.
            Hid::new(
                unsafe {
                    h5g::H5Gcreate2(fid, c.as_ptr(), H5P_DEFAULT, self.gcpl.id(), H5P_DEFAULT)
                },
                Kind::Group,
                &format!("cannot create group {prefix}"),
            )
            .map_err(write_error)?;
        }
        Ok(())
    }

    /// Writes a contiguous dataset of little-endian `bytes` (row-major). Parents are created as
    /// needed. bfloat16 (and the other ml_dtypes types) are stored as an opaque type of their
    /// size plus a `dtype` attribute naming them, as Keras does.
    pub fn write_dataset(
        &mut self,
        path: &str,
        dtype: DType,
        shape: &[u64],
        bytes: &[u8],
    ) -> Result<()> {
        let p = normalize_path(path)?;
        if p == "/" {
            return Err(Error::InvalidArgument(
                "a dataset cannot be the root group".into(),
            ));
        }
        let item = dtype.item_size().ok_or_else(|| {
            Error::InvalidArgument(format!("{p}: dtype {dtype} has no fixed size"))
        })?;
        let n = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Error::InvalidArgument(format!("{p}: shape {shape:?} overflows")))?;
        let want = n.checked_mul(item as u64);
        if want != Some(bytes.len() as u64) {
            return Err(Error::InvalidArgument(format!(
                "{p}: {} bytes for {dtype}{shape:?} (want {})",
                bytes.len(),
                want.map_or("too many".to_owned(), |w| w.to_string())
            )));
        }
        let parent = match p.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &p[..i],
        };
        locked(|| {
            self.ensure_group(parent)?;
            let fid = self.fid()?;
            let c = cstring(&p)?;
            // SAFETY: valid file id and NUL-terminated path with existing parents.
            if unsafe { h5l::H5Lexists(fid, c.as_ptr(), H5P_DEFAULT) } > 0 {
                return Err(Error::InvalidArgument(format!("{p} already exists")));
            }
            let ftype = types::canonical(dtype)?;
            let dims: Vec<hsize_t> = shape.to_vec();
            let rank = i32::try_from(dims.len())
                .ok()
                .filter(|&r| r <= 32)
                .ok_or_else(|| Error::InvalidArgument(format!("{p}: rank {} > 32", dims.len())))?;
            // SAFETY: a scalar or simple dataspace from a local dims array of len == rank.
            let space = Hid::new(
                unsafe {
                    if dims.is_empty() {
                        h5s::H5Screate(H5S_class_t::H5S_SCALAR)
                    } else {
                        h5s::H5Screate_simple(rank, dims.as_ptr(), std::ptr::null())
                    }
                },
                Kind::Dataspace,
                &format!("{p}: bad shape {shape:?}"),
            )
            .map_err(write_error)?;
            // SAFETY: valid ids; NUL-terminated path.
            let did = Hid::new(
                unsafe {
                    h5d::H5Dcreate2(
                        fid,
                        c.as_ptr(),
                        ftype.id(),
                        space.id(),
                        H5P_DEFAULT,
                        self.dcpl.id(),
                        H5P_DEFAULT,
                    )
                },
                Kind::Dataset,
                &format!("cannot create dataset {p}"),
            )
            .map_err(write_error)?;
            if n > 0 {
                // SAFETY: `bytes` holds exactly n elements of `ftype` (checked above), and the
                // memory type equals the file type, so libhdf5 reads exactly bytes.len() bytes.
                let ret = unsafe {
                    h5d::H5Dwrite(
                        did.id(),
                        ftype.id(),
                        H5S_ALL,
                        H5S_ALL,
                        H5P_DEFAULT,
                        bytes.as_ptr().cast(),
                    )
                };
                if ret < 0 {
                    return Err(io_error(&self.temp, &format!("cannot write dataset {p}")));
                }
            }
            if is_opaque_dtype(dtype) {
                attrs::write_attr(
                    did.id(),
                    "dtype",
                    &AttrValue::String(dtype.name().to_owned()),
                    false,
                    &p,
                )?;
            }
            Ok(())
        })
    }

    /// Sets attribute `name` on the group or dataset at `object_path` (replacing it). Strings are
    /// variable-length UTF-8 (Keras 3's `name`), or ASCII when `ascii` (h5py's encoding of
    /// `bytes`: legacy `model_config`, `keras_version`, ...).
    pub fn set_attr(
        &mut self,
        object_path: &str,
        name: &str,
        value: &AttrValue,
        ascii: bool,
    ) -> Result<()> {
        let p = normalize_path(object_path)?;
        locked(|| {
            let obj = self.open_object(&p)?;
            attrs::write_attr(obj.id(), name, value, ascii, &p)
        })
    }

    /// Keras's `save_attributes_to_hdf5_group`: the list whole as a vlen ASCII array when its
    /// fixed-length numpy form fits in 64512 bytes, else `name0`, `name1`, … fixed-length
    /// NULLPAD chunks (`np.array_split` pieces). An empty list is an empty float64 array, as
    /// `np.asarray([])` gives. Stale `name`/`nameK` attributes are removed first.
    pub fn set_string_list_attr(
        &mut self,
        object_path: &str,
        name: &str,
        items: &[String],
    ) -> Result<()> {
        let p = normalize_path(object_path)?;
        let (k, width) = chunk_plan(items)?;
        locked(|| {
            let obj = self.open_object(&p)?;
            attrs::delete_attr(obj.id(), name, &p)?;
            for i in 0usize.. {
                let chunk = format!("{name}{i}");
                if !attrs::attr_exists(obj.id(), &chunk, &p)? {
                    break;
                }
                attrs::delete_attr(obj.id(), &chunk, &p)?;
            }
            if items.is_empty() {
                return attrs::write_attr(obj.id(), name, &AttrValue::Float(Vec::new()), true, &p);
            }
            if k == 1 {
                return attrs::write_attr(
                    obj.id(),
                    name,
                    &AttrValue::Strings(items.to_vec()),
                    true,
                    &p,
                );
            }
            let mut start = 0usize;
            for (i, size) in array_split_sizes(items.len(), k).into_iter().enumerate() {
                let piece: Vec<&str> = items[start..start + size]
                    .iter()
                    .map(String::as_str)
                    .collect();
                attrs::write_fixed_strings(obj.id(), &format!("{name}{i}"), &piece, width, &p)?;
                start += size;
            }
            Ok(())
        })
    }

    fn open_object(&self, p: &str) -> Result<Hid> {
        let fid = self.fid()?;
        let c = cstring(p)?;
        // SAFETY: valid file id and NUL-terminated path.
        if p != "/" && unsafe { h5l::H5Lexists(fid, c.as_ptr(), H5P_DEFAULT) } <= 0 {
            super::handle::clear_errors();
            return Err(Error::InvalidArgument(format!(
                "no group or dataset {p} to set attributes on"
            )));
        }
        // SAFETY: as above; the object exists.
        Hid::new(
            unsafe { h5o::H5Oopen(fid, c.as_ptr(), H5P_DEFAULT) },
            Kind::Object,
            p,
        )
        .map_err(write_error)
    }

    /// Closes the file (libhdf5 flushes its metadata), syncs it (unless
    /// [`H5Writer::set_durable`]`(false)`) and renames it over the target. In place
    /// ([`H5Writer::create_in_place`]) it only closes.
    pub fn finish(mut self) -> Result<()> {
        if let Some(fid) = self.fid.take() {
            fid.close()
                .map_err(|e| Error::io(&self.temp, io::Error::other(e.to_string())))?;
        }
        if self.in_place {
            self.done = true;
            return Ok(());
        }
        if self.durable {
            let f = fs::File::open(&self.temp).map_err(|e| Error::io(&self.temp, e))?;
            f.sync_all().map_err(|e| Error::io(&self.temp, e))?;
        }
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for H5Writer {
    fn drop(&mut self) {
        drop(self.fid.take());
        if !self.done && !self.in_place {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
