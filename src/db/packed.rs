//! Many positional parameter lists packed into one byte buffer, for `execute_many`.
//!
//! Converting JS values one by one costs a few crossings of the JS/wasm boundary per value. The
//! package packs the lists in JavaScript instead (`pkg-template/packed.js`), passes the buffer in
//! one crossing, and the values are bound straight from it, borrowed, with no copy per value.
//! Measured on 100,000 four-column rows: ~40 ms saved in ~0.5 s (bench/RESULTS.md, finding 6).
//!
//! Layout, little-endian: `u32` list count; per list a `u32` value count, then per value a tag
//! byte and its payload:
//!
//! | tag | value   | payload                                             |
//! |-----|---------|-----------------------------------------------------|
//! | 0   | NULL    | none                                                |
//! | 1   | INTEGER | `f64` holding a safe integer (a JS number)          |
//! | 2   | REAL    | `f64`                                               |
//! | 3   | TEXT    | `u32` byte length, UTF-8 bytes                      |
//! | 4   | BLOB    | `u32` byte length, bytes                            |
//! | 5   | INTEGER | `i64` (a JS BigInt)                                 |

use rusqlite::types::ValueRef;

use crate::{Error, Result};

pub const NULL: u8 = 0;
pub const INTEGER_F64: u8 = 1;
pub const REAL: u8 = 2;
pub const TEXT: u8 = 3;
pub const BLOB: u8 = 4;
pub const INTEGER_I64: u8 = 5;

/// Reads a packed buffer front to back.
pub(super) struct PackedLists<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Set once `new` has checked the whole buffer: reading it again skips the UTF-8 check.
    checked: bool,
}

impl<'a> PackedLists<'a> {
    /// The reader and the number of lists the buffer holds. The whole buffer is checked first,
    /// so a malformed one is refused before any list has run.
    pub(super) fn new(bytes: &'a [u8]) -> Result<(Self, usize)> {
        let mut reader = PackedLists {
            bytes,
            at: 0,
            checked: false,
        };
        let lists = reader.length()?;
        let start = reader.at;
        for _ in 0..lists {
            for _ in 0..reader.list_len()? {
                reader.value()?;
            }
        }
        if reader.at != bytes.len() {
            return Err(malformed("bytes after the last list"));
        }
        reader.at = start;
        reader.checked = true;
        Ok((reader, lists))
    }

    /// The number of values in the next list.
    pub(super) fn list_len(&mut self) -> Result<usize> {
        self.length()
    }

    pub(super) fn value(&mut self) -> Result<ValueRef<'a>> {
        let [tag] = self.take::<1>()?;
        Ok(match tag {
            NULL => ValueRef::Null,
            INTEGER_F64 => {
                let n = f64::from_le_bytes(self.take()?);
                if n.fract() != 0.0 || n.abs() > (1u64 << 53) as f64 {
                    return Err(malformed("an INTEGER that is not a safe integer"));
                }
                ValueRef::Integer(n as i64)
            }
            REAL => ValueRef::Real(f64::from_le_bytes(self.take()?)),
            TEXT => {
                let len = self.length()?;
                let text = self.slice(len)?;
                if !self.checked {
                    std::str::from_utf8(text).map_err(|_| malformed("a TEXT that is not UTF-8"))?;
                }
                ValueRef::Text(text)
            }
            BLOB => {
                let len = self.length()?;
                ValueRef::Blob(self.slice(len)?)
            }
            INTEGER_I64 => ValueRef::Integer(i64::from_le_bytes(self.take()?)),
            other => return Err(malformed(&format!("unknown value tag {other}"))),
        })
    }

    fn length(&mut self) -> Result<usize> {
        Ok(u32::from_le_bytes(self.take()?) as usize)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.slice(N)?;
        Ok(slice.try_into().expect("slice of N bytes"))
    }

    fn slice(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| malformed("it ends early"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
}

fn malformed(why: &str) -> Error {
    Error::BadParams(format!("packed parameter lists are malformed: {why}"))
}
