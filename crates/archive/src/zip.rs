//! A tolerant zip reader that records what strict readers would reject.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::{Error, Limits, is_unsafe_member_name, to_u64};

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// Fixed part of the end-of-central-directory record.
const EOCD_LEN: usize = 22;
/// Fixed part of the zip64 end-of-central-directory record.
const ZIP64_EOCD_LEN: u64 = 56;
/// Longest EOCD comment, so the farthest the record can be from the end.
const MAX_COMMENT: usize = 65535;
/// Fixed part of a central directory entry.
const CENTRAL_LEN: u64 = 46;
/// Fixed part of a local header.
const LOCAL_LEN: u64 = 30;
/// Most members parsed, whatever the archive declares.
pub const MAX_MEMBERS: usize = 1_000_000;
/// Flag bits that ordinary writers set: deflate options (1, 2), data
/// descriptor (3), UTF-8 names (11).
const ORDINARY_FLAGS: u16 = 0b0000_1000_0000_1110;

/// One member, as the central directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipMember {
    /// The name (UTF-8, or lossily decoded CP437/bytes).
    pub name: String,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// General purpose flag bits.
    pub flags: u16,
    /// CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// Bytes stored.
    pub compressed_size: u64,
    /// Bytes after decompression.
    pub uncompressed_size: u64,
    /// Absolute offset of the local header (after any prepended-data shift).
    pub local_header_offset: u64,
    /// Absolute offset of the member's data.
    pub data_offset: u64,
}

/// Something about an archive a strict reader would reject or that lets
/// two readers see different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The member concerned, if one.
    pub member: Option<String>,
    /// What kind.
    pub kind: AnomalyKind,
    /// Where in the file.
    pub offset: u64,
}

/// The kinds of [`Anomaly`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnomalyKind {
    /// Bytes before the first member: offsets in the directory are shifted.
    PrependedData {
        /// How many bytes.
        bytes: u64,
    },
    /// Bytes after the end record that its comment length does not cover.
    TrailingData {
        /// How many bytes.
        bytes: u64,
    },
    /// The local header's name, method, flags or sizes differ from the
    /// central directory's.
    HeaderMismatch {
        /// Which field.
        field: &'static str,
        /// Central directory value.
        central: String,
        /// Local header value.
        local: String,
    },
    /// Two members with the same name.
    DuplicateName,
    /// A name that is absolute or leaves the extraction directory.
    UnsafeName,
    /// The encryption flag is set.
    Encrypted,
    /// Flag bits ordinary writers do not set.
    UnusualFlags {
        /// The flags.
        flags: u16,
    },
    /// Two members' data overlap (the basis of overlapping zip bombs).
    Overlap {
        /// The other member.
        other: String,
    },
    /// The member's data lies outside the file.
    OutOfBounds,
    /// The directory declares a different number of entries than it holds.
    CountMismatch {
        /// Declared.
        declared: u64,
        /// Found.
        found: u64,
    },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(member) = &self.member {
            write!(f, "member '{member}': ")?;
        }
        match &self.kind {
            AnomalyKind::PrependedData { bytes } => write!(f, "{bytes} bytes precede the archive"),
            AnomalyKind::TrailingData { bytes } => write!(f, "{bytes} bytes follow the end record"),
            AnomalyKind::HeaderMismatch {
                field,
                central,
                local,
            } => write!(
                f,
                "local header {field} {local} differs from the central directory's {central}"
            ),
            AnomalyKind::DuplicateName => write!(f, "name appears more than once"),
            AnomalyKind::UnsafeName => {
                write!(f, "name is absolute or escapes the extraction directory")
            }
            AnomalyKind::Encrypted => write!(f, "encrypted"),
            AnomalyKind::UnusualFlags { flags } => write!(f, "unusual flag bits {flags:#06x}"),
            AnomalyKind::Overlap { other } => write!(f, "data overlaps member '{other}'"),
            AnomalyKind::OutOfBounds => write!(f, "data lies outside the file"),
            AnomalyKind::CountMismatch { declared, found } => {
                write!(
                    f,
                    "end record declares {declared} entries, directory holds {found}"
                )
            }
        }?;
        write!(f, " (offset {})", self.offset)
    }
}

/// A parsed zip directory over borrowed bytes.
#[derive(Debug, Clone)]
pub struct ZipArchive {
    members: Vec<ZipMember>,
    anomalies: Vec<Anomaly>,
    file_size: u64,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn slice(&self, offset: u64, len: u64) -> Result<&'a [u8], Error> {
        let truncated = || Error::Truncated {
            what: self.what.to_string(),
            offset,
            file_size: to_u64(self.bytes.len()),
        };
        let start = usize::try_from(offset).map_err(|_| truncated())?;
        let len = usize::try_from(len).map_err(|_| truncated())?;
        let end = start.checked_add(len).ok_or_else(truncated)?;
        self.bytes.get(start..end).ok_or_else(truncated)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut out = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        out.copy_from_slice(s);
    }
    u16::from_le_bytes(out)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut out = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        out.copy_from_slice(s);
    }
    u32::from_le_bytes(out)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut out = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        out.copy_from_slice(s);
    }
    u64::from_le_bytes(out)
}

fn decode_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

impl ZipArchive {
    /// Parse the central directory and every local header.
    pub fn parse(bytes: &[u8]) -> Result<ZipArchive, Error> {
        let file_size = to_u64(bytes.len());
        let search_from = bytes.len().saturating_sub(EOCD_LEN + MAX_COMMENT);
        let eocd = (search_from..=bytes.len().saturating_sub(EOCD_LEN))
            .rev()
            .find(|&at| u32_at(bytes, at) == EOCD_SIGNATURE && bytes.len() >= at + EOCD_LEN)
            .ok_or(Error::NoEndOfCentralDirectory)?;
        let record = bytes
            .get(eocd..eocd + EOCD_LEN)
            .ok_or(Error::NoEndOfCentralDirectory)?;
        let mut anomalies = Vec::new();
        let comment_len = usize::from(u16_at(record, 20));
        let record_end = eocd + EOCD_LEN + comment_len;
        if record_end < bytes.len() {
            anomalies.push(Anomaly {
                member: None,
                kind: AnomalyKind::TrailingData {
                    bytes: to_u64(bytes.len() - record_end),
                },
                offset: to_u64(record_end),
            });
        }
        let mut declared = u64::from(u16_at(record, 10));
        let mut cd_size = u64::from(u32_at(record, 12));
        let mut cd_offset = u64::from(u32_at(record, 16));
        let mut cd_end = to_u64(eocd);
        let zip64 = declared == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff;
        if zip64 || (eocd >= 20 && u32_at(bytes, eocd - 20) == ZIP64_LOCATOR_SIGNATURE) {
            let locator = Cursor {
                bytes,
                what: "zip64 end locator",
            }
            .slice(to_u64(eocd).saturating_sub(20), 20)?;
            if u32_at(locator, 0) != ZIP64_LOCATOR_SIGNATURE {
                return Err(Error::Corrupt {
                    what: "zip64 end locator".to_string(),
                    offset: to_u64(eocd).saturating_sub(20),
                    message: "missing, but the end record's fields say zip64".to_string(),
                });
            }
            // The record normally sits right before the locator; Python's
            // zipfile looks only there, which also copes with prepended
            // data. Fall back to the locator's offset.
            let positional = to_u64(eocd).checked_sub(20 + ZIP64_EOCD_LEN);
            let record_offset = positional
                .filter(|at| {
                    usize::try_from(*at).is_ok_and(|at| u32_at(bytes, at) == ZIP64_EOCD_SIGNATURE)
                })
                .unwrap_or_else(|| u64_at(locator, 8));
            let record64 = Cursor {
                bytes,
                what: "zip64 end record",
            }
            .slice(record_offset, ZIP64_EOCD_LEN)?;
            if u32_at(record64, 0) != ZIP64_EOCD_SIGNATURE {
                return Err(Error::Corrupt {
                    what: "zip64 end record".to_string(),
                    offset: record_offset,
                    message: "bad signature".to_string(),
                });
            }
            declared = u64_at(record64, 32);
            cd_size = u64_at(record64, 40);
            cd_offset = u64_at(record64, 48);
            cd_end = record_offset;
        }
        // Prepended data (self-extracting stubs, polyglots): the directory
        // really ends where the end record starts.
        let actual_cd_offset = cd_end.checked_sub(cd_size).ok_or_else(|| Error::Corrupt {
            what: "central directory".to_string(),
            offset: cd_end,
            message: format!("size {cd_size} is larger than the bytes before the end record"),
        })?;
        let shift = actual_cd_offset.saturating_sub(cd_offset);
        if shift > 0 {
            anomalies.push(Anomaly {
                member: None,
                kind: AnomalyKind::PrependedData { bytes: shift },
                offset: 0,
            });
        }
        // The declared count only sizes the allocation (capped by what the
        // directory can hold); entries are read until the directory ends, as
        // zipfile does, and a disagreement is an anomaly.
        let capacity = declared.min(cd_size / CENTRAL_LEN).min(to_u64(MAX_MEMBERS));
        let directory = Cursor {
            bytes,
            what: "central directory",
        }
        .slice(actual_cd_offset, cd_size)?;

        let mut members = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut pos = 0usize;
        while pos + 4 <= directory.len() && u32_at(directory, pos) == CENTRAL_SIGNATURE {
            if members.len() >= MAX_MEMBERS {
                return Err(Error::TooManyMembers {
                    count: to_u64(members.len()) + 1,
                    max: to_u64(MAX_MEMBERS),
                });
            }
            let entry_offset = actual_cd_offset + to_u64(pos);
            let fixed = directory.get(pos..pos + 46).ok_or(Error::Truncated {
                what: "central directory entry".to_string(),
                offset: entry_offset,
                file_size,
            })?;
            let flags = u16_at(fixed, 8);
            let method = u16_at(fixed, 10);
            let crc32 = u32_at(fixed, 16);
            let mut compressed_size = u64::from(u32_at(fixed, 20));
            let mut uncompressed_size = u64::from(u32_at(fixed, 24));
            let name_len = usize::from(u16_at(fixed, 28));
            let extra_len = usize::from(u16_at(fixed, 30));
            let comment_len = usize::from(u16_at(fixed, 32));
            let mut local_offset = u64::from(u32_at(fixed, 42));
            let variable = directory
                .get(pos + 46..pos + 46 + name_len + extra_len + comment_len)
                .ok_or(Error::Truncated {
                    what: "central directory entry".to_string(),
                    offset: entry_offset,
                    file_size,
                })?;
            let name = decode_name(variable.get(..name_len).unwrap_or_default());
            let extra = variable
                .get(name_len..name_len + extra_len)
                .unwrap_or_default();
            // Zip64 extended information: present fields replace 0xffffffff values.
            let mut at = 0;
            while at + 4 <= extra.len() {
                let id = u16_at(extra, at);
                let len = usize::from(u16_at(extra, at + 2));
                let body = extra.get(at + 4..at + 4 + len).unwrap_or_default();
                if id == 0x0001 {
                    let mut field = 0;
                    for value in [
                        &mut uncompressed_size,
                        &mut compressed_size,
                        &mut local_offset,
                    ] {
                        if *value == 0xffff_ffff && field + 8 <= body.len() {
                            *value = u64_at(body, field);
                            field += 8;
                        }
                    }
                }
                at += 4 + len;
            }
            let local_header_offset = local_offset.saturating_add(shift);
            members.push(ZipMember {
                name,
                method,
                flags,
                crc32,
                compressed_size,
                uncompressed_size,
                local_header_offset,
                data_offset: 0,
            });
            pos += 46 + name_len + extra_len + comment_len;
        }
        if to_u64(members.len()) != declared {
            anomalies.push(Anomaly {
                member: None,
                kind: AnomalyKind::CountMismatch {
                    declared,
                    found: to_u64(members.len()),
                },
                offset: to_u64(eocd),
            });
        }

        let mut seen: HashMap<String, ()> = HashMap::with_capacity(members.len());
        for member in &mut members {
            let anomaly = |kind: AnomalyKind, offset: u64| Anomaly {
                member: Some(member.name.clone()),
                kind,
                offset,
            };
            let mut found = Vec::new();
            if seen.insert(member.name.clone(), ()).is_some() {
                found.push(anomaly(
                    AnomalyKind::DuplicateName,
                    member.local_header_offset,
                ));
            }
            if is_unsafe_member_name(&member.name) {
                found.push(anomaly(AnomalyKind::UnsafeName, member.local_header_offset));
            }
            if member.flags & 1 != 0 {
                found.push(anomaly(AnomalyKind::Encrypted, member.local_header_offset));
            }
            if member.flags & !ORDINARY_FLAGS & !1 != 0 {
                found.push(anomaly(
                    AnomalyKind::UnusualFlags {
                        flags: member.flags,
                    },
                    member.local_header_offset,
                ));
            }
            let local = Cursor {
                bytes,
                what: "local header",
            }
            .slice(member.local_header_offset, LOCAL_LEN);
            match local {
                Ok(local) if u32_at(local, 0) == LOCAL_SIGNATURE => {
                    let local_flags = u16_at(local, 6);
                    let local_method = u16_at(local, 8);
                    let local_compressed = u64::from(u32_at(local, 18));
                    let local_uncompressed = u64::from(u32_at(local, 22));
                    let name_len = u64::from(u16_at(local, 26));
                    let extra_len = u64::from(u16_at(local, 28));
                    let local_name = Cursor {
                        bytes,
                        what: "local header name",
                    }
                    .slice(member.local_header_offset + LOCAL_LEN, name_len)
                    .map(decode_name)
                    .unwrap_or_default();
                    let mut mismatch = |field: &'static str, central: String, local: String| {
                        if central != local {
                            found.push(anomaly(
                                AnomalyKind::HeaderMismatch {
                                    field,
                                    central,
                                    local,
                                },
                                member.local_header_offset,
                            ));
                        }
                    };
                    mismatch("name", member.name.clone(), local_name);
                    mismatch(
                        "method",
                        member.method.to_string(),
                        local_method.to_string(),
                    );
                    mismatch(
                        "encryption flag",
                        (member.flags & 1).to_string(),
                        (local_flags & 1).to_string(),
                    );
                    let descriptor = local_flags & 0b1000 != 0;
                    if !descriptor && local_compressed != 0xffff_ffff {
                        mismatch(
                            "compressed size",
                            member.compressed_size.to_string(),
                            local_compressed.to_string(),
                        );
                        mismatch(
                            "uncompressed size",
                            member.uncompressed_size.to_string(),
                            local_uncompressed.to_string(),
                        );
                    }
                    member.data_offset =
                        member.local_header_offset + LOCAL_LEN + name_len + extra_len;
                    let end = member.data_offset.checked_add(member.compressed_size);
                    if end.is_none_or(|end| end > file_size) {
                        found.push(anomaly(AnomalyKind::OutOfBounds, member.data_offset));
                    }
                }
                _ => {
                    member.data_offset = u64::MAX;
                    found.push(anomaly(
                        AnomalyKind::OutOfBounds,
                        member.local_header_offset,
                    ));
                }
            }
            anomalies.extend(found);
        }
        // Overlapping data ranges.
        let mut order: Vec<&ZipMember> = members
            .iter()
            .filter(|m| m.data_offset != u64::MAX)
            .collect();
        order.sort_by_key(|m| m.local_header_offset);
        let mut reach: Option<(u64, &ZipMember)> = None;
        for member in order {
            if let Some((end, other)) = reach
                && member.local_header_offset < end
            {
                anomalies.push(Anomaly {
                    member: Some(member.name.clone()),
                    kind: AnomalyKind::Overlap {
                        other: other.name.clone(),
                    },
                    offset: member.local_header_offset,
                });
            }
            let end = member.data_offset.saturating_add(member.compressed_size);
            if reach.is_none_or(|(r, _)| end > r) {
                reach = Some((end, member));
            }
        }
        Ok(ZipArchive {
            members,
            anomalies,
            file_size,
        })
    }

    /// Members in central directory order.
    pub fn members(&self) -> &[ZipMember] {
        &self.members
    }

    /// The first member with this name.
    pub fn find(&self, name: &str) -> Option<&ZipMember> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Everything odd found while parsing.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// Read a member's data: borrowed when stored, inflated within `limits`
    /// when deflated. The CRC-32 and size are checked.
    pub fn read<'a>(
        &self,
        bytes: &'a [u8],
        member: &ZipMember,
        limits: &Limits,
    ) -> Result<Cow<'a, [u8]>, Error> {
        if member.flags & 1 != 0 {
            return Err(Error::Encrypted {
                member: member.name.clone(),
            });
        }
        if member.data_offset == u64::MAX {
            return Err(Error::Truncated {
                what: format!("local header of '{}'", member.name),
                offset: member.local_header_offset,
                file_size: self.file_size,
            });
        }
        let data = Cursor {
            bytes,
            what: "member data",
        }
        .slice(member.data_offset, member.compressed_size)?;
        let out: Cow<'a, [u8]> = match member.method {
            0 => Cow::Borrowed(data),
            8 => {
                crate::check_output(
                    &member.name,
                    member.uncompressed_size,
                    member.compressed_size,
                    limits,
                )?;
                Cow::Owned(crate::stream::inflate(data, &member.name, limits)?)
            }
            method => {
                return Err(Error::UnsupportedMethod {
                    member: member.name.clone(),
                    method,
                });
            }
        };
        if to_u64(out.len()) != member.uncompressed_size {
            return Err(Error::BadData {
                member: member.name.clone(),
                message: format!(
                    "{} bytes of data, the directory says {}",
                    out.len(),
                    member.uncompressed_size
                ),
            });
        }
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        if crc.sum() != member.crc32 {
            return Err(Error::BadData {
                member: member.name.clone(),
                message: format!(
                    "CRC-32 {:#010x} does not match the directory's {:#010x}",
                    crc.sum(),
                    member.crc32
                ),
            });
        }
        Ok(out)
    }
}

/// Whether bytes look like a zip archive (a local header at the start, or
/// an end record near the end).
pub fn looks_like_zip(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return true;
    }
    let from = bytes.len().saturating_sub(EOCD_LEN + MAX_COMMENT);
    (from..=bytes.len().saturating_sub(EOCD_LEN))
        .rev()
        .any(|at| u32_at(bytes, at) == EOCD_SIGNATURE)
}
