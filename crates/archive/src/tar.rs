//! A tar reader over borrowed bytes (ustar, GNU long names, pax paths).

use crate::{Error, to_u64};

const BLOCK: usize = 512;
/// Most members parsed.
pub const MAX_MEMBERS: usize = 1_000_000;
/// Longest GNU long name or pax record set read.
const MAX_LONG_NAME: u64 = 1 << 20;

/// What a tar member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link to `target`.
    Symlink {
        /// Where it points.
        target: String,
    },
    /// A hard link to `target`.
    Hardlink {
        /// Which member.
        target: String,
    },
    /// Another type flag (devices, FIFOs…).
    Other(u8),
}

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    /// Its path.
    pub name: String,
    /// Bytes of data.
    pub size: u64,
    /// Absolute offset of its data.
    pub data_offset: u64,
    /// What it is.
    pub kind: TarKind,
    /// Offset of its header.
    pub header_offset: u64,
}

/// A parsed tar archive.
#[derive(Debug, Clone)]
pub struct TarArchive {
    members: Vec<TarMember>,
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(field.get(..end).unwrap_or_default()).into_owned()
}

fn number(field: &[u8], offset: u64, what: &str) -> Result<u64, Error> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256 (GNU) for large values.
        let mut value: u64 = u64::from(field.first().copied().unwrap_or(0) & 0x7f);
        for byte in field.get(1..).unwrap_or_default() {
            value = value
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*byte)))
                .ok_or_else(|| Error::Corrupt {
                    what: format!("tar header {what}"),
                    offset,
                    message: "number overflows 64 bits".to_string(),
                })?;
        }
        return Ok(value);
    }
    let digits = text(field);
    let digits = digits.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| Error::Corrupt {
        what: format!("tar header {what}"),
        offset,
        message: format!("'{digits}' is not an octal number"),
    })
}

/// Whether a 512-byte block is a valid tar header: its checksum matches the
/// unsigned byte sum, or the signed one some old writers used (as `tarfile`
/// accepts both).
pub fn is_tar_header(block: &[u8]) -> bool {
    let Some(block) = block.get(..BLOCK) else {
        return false;
    };
    if block.iter().all(|b| *b == 0) {
        return false;
    }
    let Ok(stored) = number(block.get(148..156).unwrap_or_default(), 0, "checksum") else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, byte) in block.iter().enumerate() {
        let byte = if (148..156).contains(&i) { b' ' } else { *byte };
        unsigned += u64::from(byte);
        signed += i64::from(byte.cast_signed());
    }
    stored == unsigned || i64::try_from(stored).is_ok_and(|stored| stored == signed)
}

/// The value of `key` in a pax extended header: records of the form
/// `"<length> <key>=<value>\n"`, where the length counts the whole record
/// (so values may hold newlines). The last record for a key wins.
fn pax_value(records: &[u8], key: &str) -> Option<String> {
    let mut rest = records;
    let mut found = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let length: usize = std::str::from_utf8(rest.get(..space)?).ok()?.parse().ok()?;
        let record = rest.get(space + 1..length)?;
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let equals = record.iter().position(|b| *b == b'=')?;
        if record.get(..equals) == Some(key.as_bytes()) {
            found = Some(String::from_utf8_lossy(record.get(equals + 1..)?).into_owned());
        }
        rest = rest.get(length..)?;
    }
    found
}

impl TarArchive {
    /// Parse every header, checking checksums and that data fits the file.
    pub fn parse(bytes: &[u8]) -> Result<TarArchive, Error> {
        let file_size = to_u64(bytes.len());
        let mut members = Vec::new();
        let mut pos = 0usize;
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax: Option<Vec<u8>> = None;
        while let Some(header) = bytes.get(pos..pos + BLOCK) {
            let offset = to_u64(pos);
            if header.iter().all(|b| *b == 0) {
                break;
            }
            if !is_tar_header(header) {
                return Err(Error::Corrupt {
                    what: "tar header".to_string(),
                    offset,
                    message: "checksum does not match".to_string(),
                });
            }
            if members.len() >= MAX_MEMBERS {
                return Err(Error::TooManyMembers {
                    count: to_u64(members.len()) + 1,
                    max: to_u64(MAX_MEMBERS),
                });
            }
            let flag = header.get(156).copied().unwrap_or(0);
            let header_size = number(header.get(124..136).unwrap_or_default(), offset, "size")?;
            // A pax `size` record replaces the header's (files over 8 GiB).
            let pax_size = match flag {
                b'x' | b'g' | b'L' | b'K' => None,
                _ => pax
                    .as_deref()
                    .and_then(|records| pax_value(records, "size"))
                    .map(|text| {
                        text.parse::<u64>().map_err(|_| Error::Corrupt {
                            what: "pax size".to_string(),
                            offset,
                            message: format!("'{text}' is not a decimal number"),
                        })
                    })
                    .transpose()?,
            };
            // Links, devices, directories and FIFOs have no data, whatever
            // their size field says: `tarfile` (and so `torch.load`) reads
            // the next header right after theirs.
            let has_data = !matches!(flag, b'1'..=b'6');
            let size = if has_data {
                pax_size.unwrap_or(header_size)
            } else {
                0
            };
            let data_offset = offset + to_u64(BLOCK);
            let padded = size
                .checked_next_multiple_of(to_u64(BLOCK))
                .unwrap_or(u64::MAX);
            let data_end = data_offset
                .checked_add(size)
                .filter(|end| *end <= file_size)
                .ok_or(Error::Truncated {
                    what: format!("data of tar member at {offset}"),
                    offset: data_offset,
                    file_size,
                })?;
            let data = bytes
                .get(
                    usize::try_from(data_offset).unwrap_or(usize::MAX)
                        ..usize::try_from(data_end).unwrap_or(usize::MAX),
                )
                .unwrap_or_default();
            let next = data_offset.saturating_add(padded);
            let bounded = |what: &str| -> Result<(), Error> {
                if size > MAX_LONG_NAME {
                    return Err(Error::LimitExceeded {
                        what: what.to_string(),
                        message: format!("{size} bytes"),
                        limit: MAX_LONG_NAME,
                    });
                }
                Ok(())
            };
            match flag {
                b'L' => {
                    bounded("GNU long name")?;
                    long_name = Some(text(data));
                }
                b'K' => {
                    bounded("GNU long link")?;
                    long_link = Some(text(data));
                }
                b'x' => {
                    bounded("pax header")?;
                    pax = Some(data.to_vec());
                }
                b'g' => {}
                _ => {
                    let prefix = text(header.get(345..500).unwrap_or_default());
                    let base = text(header.get(..100).unwrap_or_default());
                    let ustar = header.get(257..262) == Some(b"ustar".as_slice());
                    let mut name = if ustar && !prefix.is_empty() {
                        format!("{prefix}/{base}")
                    } else {
                        base
                    };
                    let mut link = text(header.get(157..257).unwrap_or_default());
                    if let Some(records) = pax.take() {
                        if let Some(path) = pax_value(&records, "path") {
                            name = path;
                        }
                        if let Some(path) = pax_value(&records, "linkpath") {
                            link = path;
                        }
                    }
                    if let Some(long) = long_name.take() {
                        name = long;
                    }
                    if let Some(long) = long_link.take() {
                        link = long;
                    }
                    let kind = match flag {
                        b'0' | 0 | b'7' => TarKind::File,
                        b'5' => TarKind::Directory,
                        b'2' => TarKind::Symlink { target: link },
                        b'1' => TarKind::Hardlink { target: link },
                        other => TarKind::Other(other),
                    };
                    members.push(TarMember {
                        name,
                        size,
                        data_offset,
                        kind,
                        header_offset: offset,
                    });
                }
            }
            pos = usize::try_from(next).map_err(|_| Error::Truncated {
                what: "tar archive".to_string(),
                offset: next,
                file_size,
            })?;
        }
        Ok(TarArchive { members })
    }

    /// Members in archive order.
    pub fn members(&self) -> &[TarMember] {
        &self.members
    }

    /// The last member with this name (as `tarfile` resolves duplicates).
    pub fn find(&self, name: &str) -> Option<&TarMember> {
        self.members
            .iter()
            .rev()
            .find(|m| m.name == name || m.name.strip_prefix("./") == Some(name))
    }

    /// A member's data, borrowed.
    pub fn read<'a>(&self, bytes: &'a [u8], member: &TarMember) -> Result<&'a [u8], Error> {
        let truncated = || Error::Truncated {
            what: format!("data of '{}'", member.name),
            offset: member.data_offset,
            file_size: to_u64(bytes.len()),
        };
        let start = usize::try_from(member.data_offset).map_err(|_| truncated())?;
        let end = start
            .checked_add(usize::try_from(member.size).map_err(|_| truncated())?)
            .ok_or_else(truncated)?;
        bytes.get(start..end).ok_or_else(truncated)
    }
}
