//! A minimal protobuf wire-format reader over a borrowed buffer.
//!
//! Only what the ONNX reader needs: tags, varints, fixed-width values,
//! length-delimited slices and skipping groups. Nothing is allocated; every
//! length is checked against the enclosing message before it is used.

use crate::Error;

/// Most nested groups skipped inside one unknown field.
const MAX_GROUP_DEPTH: usize = 32;

/// The value of one field as found on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64,
    /// Wire type 2: the payload and its absolute offset.
    Bytes(&'a [u8], u64),
    /// Wire type 5.
    Fixed32,
    /// Wire type 3 (skipped up to its end-group tag).
    Group,
}

/// One field: number, absolute offset of its tag, value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) number: u64,
    pub(crate) offset: u64,
    pub(crate) value: Value<'a>,
}

impl<'a> Field<'a> {
    /// The varint value, if the field is a varint (mismatched wire types are
    /// ignored, as protobuf parsers treat them as unknown fields).
    pub(crate) fn varint(&self) -> Option<u64> {
        match self.value {
            Value::Varint(v) => Some(v),
            _ => None,
        }
    }

    /// The varint as a protobuf `int64`.
    pub(crate) fn int64(&self) -> Option<i64> {
        self.varint().map(|v| v as i64)
    }

    /// The varint as a protobuf `int32` (upper bits dropped, as protobuf does).
    pub(crate) fn int32(&self) -> Option<i32> {
        self.varint().map(|v| v as i32)
    }

    /// The payload of a length-delimited field and its absolute offset.
    pub(crate) fn bytes(&self) -> Option<(&'a [u8], u64)> {
        match self.value {
            Value::Bytes(b, offset) => Some((b, offset)),
            _ => None,
        }
    }

    /// A length-delimited field as a string (invalid UTF-8 replaced).
    pub(crate) fn string(&self) -> Option<String> {
        self.bytes()
            .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
    }

    /// A reader over an embedded message.
    pub(crate) fn message(&self) -> Option<Reader<'a>> {
        self.bytes().map(|(b, offset)| Reader::new(b, offset))
    }

    /// How many bytes the value occupies on the wire (without the tag).
    pub(crate) fn value_len(&self) -> u64 {
        match self.value {
            Value::Varint(v) => varint_len(v),
            Value::Fixed64 => 8,
            Value::Bytes(b, _) => u64::try_from(b.len()).unwrap_or(u64::MAX),
            Value::Fixed32 => 4,
            Value::Group => 0,
        }
    }
}

fn varint_len(mut v: u64) -> u64 {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Reads fields one after another from a message's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, which starts at absolute offset `base`.
    pub(crate) fn new(buf: &'a [u8], base: u64) -> Reader<'a> {
        Reader { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base
            .saturating_add(u64::try_from(self.pos).unwrap_or(u64::MAX))
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Read one varint.
    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64, Error> {
        let start = self.offset();
        let mut value = 0u64;
        for i in 0..10u32 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(Error::Truncated {
                    offset: start,
                    field,
                });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Error::BadVarint {
            offset: start,
            field,
        })
    }

    fn take(&mut self, len: u64, start: u64, field: &'static str) -> Result<&'a [u8], Error> {
        let truncated = Error::Truncated {
            offset: start,
            field,
        };
        let len = usize::try_from(len).map_err(|_| truncated.clone())?;
        let end = self.pos.checked_add(len).ok_or(truncated.clone())?;
        let slice = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(slice)
    }

    /// Read the next field, or `None` at the end of the message.
    /// `context` names the enclosing message in errors.
    pub(crate) fn next(&mut self, context: &'static str) -> Result<Option<Field<'a>>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let offset = self.offset();
        let tag = self.varint(context)?;
        let (number, wire_type) = split_tag(tag, offset)?;
        let value = match wire_type {
            0 => Value::Varint(self.varint(context)?),
            1 => {
                self.take(8, offset, context)?;
                Value::Fixed64
            }
            2 => {
                let len = self.varint(context)?;
                let payload_offset = self.offset();
                Value::Bytes(self.take(len, offset, context)?, payload_offset)
            }
            3 => {
                self.skip_group(number, offset, context)?;
                Value::Group
            }
            5 => {
                self.take(4, offset, context)?;
                Value::Fixed32
            }
            _ => {
                return Err(Error::BadTag {
                    offset,
                    tag,
                    message: "end-group tag without a matching start-group".to_string(),
                });
            }
        };
        Ok(Some(Field {
            number,
            offset,
            value,
        }))
    }

    /// Skip the body of a group whose start tag was just read.
    fn skip_group(&mut self, number: u64, start: u64, context: &'static str) -> Result<(), Error> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if self.is_empty() {
                return Err(Error::Truncated {
                    offset: start,
                    field: context,
                });
            }
            let offset = self.offset();
            let tag = self.varint(context)?;
            let (n, wire_type) = split_tag(tag, offset)?;
            match wire_type {
                0 => {
                    self.varint(context)?;
                }
                1 => {
                    self.take(8, offset, context)?;
                }
                2 => {
                    let len = self.varint(context)?;
                    self.take(len, offset, context)?;
                }
                3 => {
                    if open.len() >= MAX_GROUP_DEPTH {
                        return Err(Error::TooDeep {
                            offset,
                            limit: MAX_GROUP_DEPTH,
                        });
                    }
                    open.push(n);
                }
                4 if n == innermost => {
                    open.pop();
                }
                5 => {
                    self.take(4, offset, context)?;
                }
                _ => {
                    return Err(Error::BadTag {
                        offset,
                        tag,
                        message: format!("end-group tag for field {n} inside group {innermost}"),
                    });
                }
            }
        }
        Ok(())
    }
}

fn split_tag(tag: u64, offset: u64) -> Result<(u64, u8), Error> {
    let number = tag >> 3;
    let wire_type = (tag & 7) as u8;
    if number == 0 || number > (1 << 29) - 1 {
        return Err(Error::BadTag {
            offset,
            tag,
            message: format!("field number {number} is outside 1..=536870911"),
        });
    }
    if matches!(wire_type, 6 | 7) {
        return Err(Error::BadTag {
            offset,
            tag,
            message: format!("wire type {wire_type} does not exist"),
        });
    }
    Ok((number, wire_type))
}

/// Call `each` for every value of a repeated `int64` field, packed or not.
pub(crate) fn repeated_int64(
    field: &Field<'_>,
    context: &'static str,
    mut each: impl FnMut(i64) -> Result<(), Error>,
) -> Result<(), Error> {
    match field.value {
        Value::Varint(v) => each(v as i64),
        Value::Bytes(packed, offset) => {
            let mut reader = Reader::new(packed, offset);
            while !reader.is_empty() {
                each(reader.varint(context)? as i64)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_tags() {
        let mut r = Reader::new(&[0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i'], 0);
        let f = r.next("m").unwrap().unwrap();
        assert_eq!((f.number, f.varint()), (1, Some(150)));
        let f = r.next("m").unwrap().unwrap();
        assert_eq!(f.string().as_deref(), Some("hi"));
        assert!(r.next("m").unwrap().is_none());
        let eleven = [0xffu8; 11];
        assert!(matches!(
            Reader::new(&eleven, 0).varint("v"),
            Err(Error::BadVarint { offset: 0, .. })
        ));
        assert!(matches!(
            Reader::new(&[0x12, 0x05, b'h'], 0).next("m"),
            Err(Error::Truncated { offset: 0, .. })
        ));
        // A group with a nested group and a varint, then a varint field.
        let mut r = Reader::new(&[0x0b, 0x13, 0x08, 0x01, 0x14, 0x0c, 0x10, 0x07], 0);
        assert!(matches!(r.next("m").unwrap().unwrap().value, Value::Group));
        assert_eq!(r.next("m").unwrap().unwrap().varint(), Some(7));
        assert!(Reader::new(&[0x0c], 0).next("m").is_err());
        assert!(Reader::new(&[0x0b, 0x08, 0x01], 0).next("m").is_err());
        assert!(Reader::new(&[0x07], 0).next("m").is_err());
        assert!(Reader::new(&[0x00], 0).next("m").is_err());
    }
}
