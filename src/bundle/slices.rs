//! Geometry of partitioned tensors (tf_formats.md §2.6): resolving `TensorSliceProto` extents
//! against the full shape, checking that the slices tile it exactly, and the strided copy that
//! places one slice into the full row-major buffer.
//!
//! ```text
//! full [4,3], slice rows 1..3 (extents (1,2),(0,-1)):      runs (dst element, src element, len)
//!   row 0  . . .                                            trailing full dims merge, so this
//!   row 1  a a a   <- src 0..3                              slice is ONE run: (3, 0, 6)
//!   row 2  a a a   <- src 3..6
//!   row 3  . . .
//! full [4,3], slice cols 1..3 (extents (0,-1),(1,2)): runs (1,0,2) (4,2,2) (7,4,2) (10,6,2)
//! ```

use crate::error::{Error, Result};

/// A slice resolved against the full shape: per dimension, start and length in elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    pub start: Vec<u64>,
    pub len: Vec<u64>,
}

impl Region {
    /// Number of elements; the full shape bounds it, so no overflow once resolved.
    pub fn num_elements(&self) -> u64 {
        self.len.iter().product()
    }

    fn end(&self, d: usize) -> u64 {
        self.start[d] + self.len[d]
    }

    fn overlaps(&self, other: &Region) -> bool {
        (0..self.start.len()).all(|d| self.start[d] < other.end(d) && other.start[d] < self.end(d))
    }
}

/// Resolves `(start, length)` extents (full = `(0, -1)`) against `shape`. Checks the rank and that
/// every extent lies inside its dimension.
pub(crate) fn resolve(extents: &[(i64, i64)], shape: &[u64]) -> Result<Region> {
    if extents.len() != shape.len() {
        return Err(Error::corrupt(format!(
            "slice has rank {} but the tensor has shape {shape:?}",
            extents.len()
        )));
    }
    let mut start = Vec::with_capacity(shape.len());
    let mut len = Vec::with_capacity(shape.len());
    for (&(s, l), &dim) in extents.iter().zip(shape) {
        let bad = || {
            Error::corrupt(format!(
                "slice extent ({s}, {l}) does not fit in shape {shape:?}"
            ))
        };
        if l == -1 {
            if s != 0 {
                return Err(bad());
            }
            start.push(0);
            len.push(dim);
            continue;
        }
        let s = u64::try_from(s).map_err(|_| bad())?;
        let l = u64::try_from(l).map_err(|_| bad())?;
        if s.checked_add(l).is_none_or(|end| end > dim) {
            return Err(bad());
        }
        start.push(s);
        len.push(l);
    }
    Ok(Region { start, len })
}

/// Checks that `regions` tile `shape` exactly: pairwise disjoint (TF's `TensorSliceSet` rejects
/// overlaps) and together as many elements as the full tensor (TF: "Does not have sufficient
/// slices"). Disjoint boxes inside the shape whose volumes sum to the total cover it.
pub(crate) fn check_cover(regions: &[Region], total: u64) -> Result<()> {
    let mut sum: u64 = 0;
    for r in regions {
        sum = sum
            .checked_add(r.num_elements())
            .ok_or_else(|| Error::corrupt("slice sizes overflow"))?;
    }
    // Sweep on dimension 0 so the common case (slicing along rows) costs n log n.
    let mut order: Vec<&Region> = regions.iter().filter(|r| r.num_elements() > 0).collect();
    if order.first().is_some_and(|r| !r.start.is_empty()) {
        order.sort_by_key(|r| r.start[0]);
    }
    for (i, a) in order.iter().enumerate() {
        for b in order.iter().skip(i + 1) {
            if !a.start.is_empty() && b.start[0] >= a.end(0) {
                break;
            }
            if a.overlaps(b) {
                return Err(Error::corrupt(format!(
                    "overlapping slices {:?}+{:?} and {:?}+{:?}",
                    a.start, a.len, b.start, b.len
                )));
            }
        }
    }
    if sum != total {
        return Err(Error::corrupt(format!(
            "slices hold {sum} elements but the tensor has {total}: not enough slices for the partitioned tensor"
        )));
    }
    Ok(())
}

/// Calls `f(dst_element, src_element, run_length)` for each contiguous run that copies the
/// row-major slice `region` into the row-major full tensor of `shape`. Trailing dimensions that
/// the slice covers fully merge into one run.
pub(crate) fn for_each_run(
    region: &Region,
    shape: &[u64],
    mut f: impl FnMut(u64, u64, u64) -> Result<()>,
) -> Result<()> {
    let rank = shape.len();
    if region.len.contains(&0) {
        return Ok(());
    }
    if rank == 0 {
        return f(0, 0, 1);
    }
    // k: the outermost dim of the contiguous run; every dim after it is full.
    let mut k = rank - 1;
    while k > 0 && region.len[k] == shape[k] {
        k -= 1;
    }
    // Row-major strides of the full tensor (in elements).
    let mut stride = vec![1u64; rank];
    for d in (0..rank - 1).rev() {
        stride[d] = stride[d + 1] * shape[d + 1];
    }
    let run: u64 = region.len[k..].iter().product();
    let base = region.start[k] * stride[k];
    let mut index = vec![0u64; k]; // odometer over the outer dims 0..k
    let mut src = 0u64;
    loop {
        let dst = base
            + (0..k)
                .map(|d| (region.start[d] + index[d]) * stride[d])
                .sum::<u64>();
        f(dst, src, run)?;
        src += run;
        // Advance the odometer; done when it wraps.
        let mut d = k;
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            index[d] += 1;
            if index[d] < region.len[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(region: &Region, shape: &[u64]) -> Vec<(u64, u64, u64)> {
        let mut v = Vec::new();
        for_each_run(region, shape, |a, b, c| {
            v.push((a, b, c));
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn row_and_column_slices() {
        let shape = [4, 3];
        let rows = resolve(&[(1, 2), (0, -1)], &shape).unwrap();
        assert_eq!(runs(&rows, &shape), vec![(3, 0, 6)]);
        let cols = resolve(&[(0, -1), (1, 2)], &shape).unwrap();
        assert_eq!(
            runs(&cols, &shape),
            vec![(1, 0, 2), (4, 2, 2), (7, 4, 2), (10, 6, 2)]
        );
        let scalar = resolve(&[], &[]).unwrap();
        assert_eq!(runs(&scalar, &[]), vec![(0, 0, 1)]);
        let block = resolve(&[(1, 1), (1, 2), (0, 2)], &[3, 3, 2]).unwrap();
        assert_eq!(runs(&block, &[3, 3, 2]), vec![(8, 0, 4)]);
    }

    #[test]
    fn bad_extents() {
        assert!(resolve(&[(0, 5)], &[4]).is_err());
        assert!(resolve(&[(-1, 2)], &[4]).is_err());
        assert!(resolve(&[(1, -1)], &[4]).is_err());
        assert!(resolve(&[(i64::MAX, i64::MAX)], &[4]).is_err());
        assert!(resolve(&[(0, 1)], &[4, 3]).is_err());
    }

    #[test]
    fn cover() {
        let shape = [4, 3];
        let a = resolve(&[(0, 2), (0, -1)], &shape).unwrap();
        let b = resolve(&[(2, 2), (0, 3)], &shape).unwrap();
        let c = resolve(&[(1, 2), (0, -1)], &shape).unwrap();
        assert!(check_cover(&[a.clone(), b.clone()], 12).is_ok());
        assert!(check_cover(std::slice::from_ref(&a), 12).is_err());
        assert!(check_cover(&[a.clone(), c.clone(), b.clone()], 12).is_err());
        // Same volume, but overlapping: still rejected.
        let d = resolve(&[(2, 1), (0, -1)], &shape).unwrap();
        assert!(check_cover(&[a, c, d], 12).is_err());
    }
}
