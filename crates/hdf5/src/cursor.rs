//! A bounded reader over the file's bytes. Positions are absolute file
//! offsets, so every error names where in the file it happened.

use crate::Error;

/// Reads little-endian fields from `bytes[pos..end]`.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `len` bytes at absolute offset `at`; fails when that
    /// range is not inside the file.
    pub(crate) fn new(
        bytes: &'a [u8],
        at: u64,
        len: u64,
        what: &'static str,
    ) -> Result<Self, Error> {
        let truncated = || Error::Truncated { what, offset: at };
        let start = usize::try_from(at).map_err(|_| truncated())?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(truncated)?;
        Ok(Cursor {
            bytes,
            pos: start,
            end,
            what,
        })
    }

    /// A cursor from `at` to the end of the file.
    pub(crate) fn open_ended(bytes: &'a [u8], at: u64, what: &'static str) -> Result<Self, Error> {
        let len = u64::try_from(bytes.len())
            .ok()
            .and_then(|n| n.checked_sub(at))
            .ok_or(Error::Truncated { what, offset: at })?;
        Cursor::new(bytes, at, len, what)
    }

    /// The absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left before the end of this structure.
    pub(crate) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// What this cursor reads, for errors.
    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.end)
            .ok_or(Error::Truncated {
                what: self.what,
                offset: self.offset(),
            })?;
        let slice = self.bytes.get(self.pos..end).ok_or(Error::Truncated {
            what: self.what,
            offset: self.offset(),
        })?;
        self.pos = end;
        Ok(slice)
    }

    /// Skip `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }

    /// Skip to the next multiple of `align` counted from `origin`.
    pub(crate) fn align(&mut self, origin: u64, align: u64) -> Result<(), Error> {
        let used = self.offset().saturating_sub(origin);
        let pad = (align - used % align) % align;
        self.skip(usize::try_from(pad).unwrap_or(usize::MAX))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::try_from(self.uint(2)?).unwrap_or(u16::MAX))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::try_from(self.uint(4)?).unwrap_or(u32::MAX))
    }

    /// A little-endian unsigned integer of `n` bytes (0 to 8).
    pub(crate) fn uint(&mut self, n: usize) -> Result<u64, Error> {
        if n > 8 {
            return Err(Error::Invalid {
                what: self.what,
                offset: self.offset(),
                reason: format!("{n}-byte integer field"),
            });
        }
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The 4-byte signature `expected`, or an error naming what was found.
    pub(crate) fn signature(&mut self, expected: &[u8; 4]) -> Result<(), Error> {
        let offset = self.offset();
        let found = self.take(4)?;
        if found == expected {
            Ok(())
        } else {
            Err(Error::BadSignature {
                what: self.what,
                offset,
                expected: String::from_utf8_lossy(expected).into_owned(),
            })
        }
    }

    /// A NUL-terminated string; the NUL is consumed, not returned.
    pub(crate) fn cstring(&mut self, max: usize) -> Result<&'a [u8], Error> {
        let offset = self.offset();
        let window = self.bytes.get(self.pos..self.end).ok_or(Error::Truncated {
            what: self.what,
            offset,
        })?;
        let len = window
            .iter()
            .take(max.saturating_add(1))
            .position(|b| *b == 0)
            .ok_or(Error::Invalid {
                what: self.what,
                offset,
                reason: format!("string without a terminator within {max} bytes"),
            })?;
        let text = self.take(len)?;
        self.skip(1)?;
        Ok(text)
    }
}

/// Checked `a + b` on file offsets.
pub(crate) fn add(a: u64, b: u64, what: &'static str) -> Result<u64, Error> {
    a.checked_add(b).ok_or(Error::Invalid {
        what,
        offset: a,
        reason: "offset overflows".to_string(),
    })
}
