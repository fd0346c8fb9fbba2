//! Reading untrusted JSON into typed structs without amplification:
//! unknown fields are skipped without allocating (`serde::de::IgnoredAny`),
//! and every array is read through [`Bounded`], which stops at its cap.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// The cap and name of one array field.
pub(crate) trait Cap {
    /// Most elements.
    const MAX: usize;
    /// The field, for the error.
    const FIELD: &'static str;
}

/// A JSON array of at most `C::MAX` elements.
pub(crate) struct Bounded<T, C>(pub(crate) Vec<T>, PhantomData<C>);

impl<'de, T: Deserialize<'de>, C: Cap> Deserialize<'de> for Bounded<T, C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArrayVisitor<T, C>(PhantomData<(T, C)>);

        impl<'de, T: Deserialize<'de>, C: Cap> Visitor<'de> for ArrayVisitor<T, C> {
            type Value = Bounded<T, C>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}: an array of at most {} elements", C::FIELD, C::MAX)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() >= C::MAX {
                        return Err(de::Error::custom(format!(
                            "{}: more than {} entries",
                            C::FIELD,
                            C::MAX
                        )));
                    }
                    items.push(item);
                }
                Ok(Bounded(items, PhantomData))
            }
        }

        deserializer.deserialize_seq(ArrayVisitor(PhantomData))
    }
}
