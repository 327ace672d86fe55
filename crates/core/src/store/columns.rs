//! Values of a multi-row statement, bound column by column: one PostgreSQL array per
//! position, in the binary array format, built as the rows' binders add values
//! (`super::statement::Args::columns`). Used by batched reprocessing (`super::batch`).

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::{Encode, Postgres, Type};

/// The values of a multi-row statement being bound: one array per position, encoded in
/// PostgreSQL's binary array format as the rows come.
#[derive(Default)]
pub(crate) struct Columns {
    columns: Vec<Column>,
    /// The position the next value binds, within the current row.
    at: usize,
    rows: usize,
}

struct Column {
    element: Oid,
    /// Each element: its length (`-1` for NULL) and bytes.
    elements: Vec<u8>,
    has_null: bool,
}

impl Columns {
    pub(crate) fn add<'q, T>(&mut self, value: T) -> std::result::Result<(), BoxDynError>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        let element = value
            .produces()
            .unwrap_or_else(T::type_info)
            .oid()
            .ok_or("a multi-row statement binds built-in types only")?;
        let mut buf = PgArgumentBuffer::default();
        let null = matches!(value.encode(&mut buf)?, IsNull::Yes);
        if self.rows == 0 {
            self.columns.push(Column {
                element,
                elements: Vec::new(),
                has_null: false,
            });
        }
        let column = self
            .columns
            .get_mut(self.at)
            .ok_or("a row binds more values than the first row")?;
        if column.element != element {
            return Err("a row binds another type than the first row at the same position".into());
        }
        if null {
            column.elements.extend_from_slice(&(-1i32).to_be_bytes());
            column.has_null = true;
        } else {
            let len = i32::try_from(buf.len()).map_err(|_| "a value too large to bind")?;
            column.elements.extend_from_slice(&len.to_be_bytes());
            column.elements.extend_from_slice(&buf);
        }
        self.at += 1;
        Ok(())
    }

    pub(crate) fn end_row(&mut self) -> std::result::Result<(), BoxDynError> {
        if self.at != self.columns.len() {
            return Err("a row binds fewer values than the first row".into());
        }
        self.at = 0;
        self.rows += 1;
        Ok(())
    }

    /// One array per position, in `$n` order.
    pub(crate) fn finish(
        self,
    ) -> impl Iterator<Item = std::result::Result<EncodedArray, BoxDynError>> {
        let rows = i32::try_from(self.rows).unwrap_or(i32::MAX);
        self.columns.into_iter().map(move |c| {
            let array = array_of(c.element)
                .ok_or("a multi-row statement binds a type without a known array type")?;
            let mut bytes = Vec::with_capacity(20 + c.elements.len());
            for word in [1, i32::from(c.has_null), c.element.0 as i32, rows, 1] {
                // dimensions, has-NULL flag, element type, length, lower bound
                bytes.extend_from_slice(&word.to_be_bytes());
            }
            bytes.extend_from_slice(&c.elements);
            Ok(EncodedArray {
                type_info: PgTypeInfo::with_oid(array),
                bytes,
            })
        })
    }
}

/// The array type of the built-in element types the entity statements bind.
fn array_of(element: Oid) -> Option<Oid> {
    const ARRAYS: [(u32, u32); 7] = [
        (16, 1000),   // bool
        (20, 1016),   // int8
        (21, 1005),   // int2
        (23, 1007),   // int4
        (25, 1009),   // text
        (1114, 1115), // timestamp
        (1184, 1185), // timestamptz
    ];
    ARRAYS
        .iter()
        .find(|(e, _)| *e == element.0)
        .map(|(_, a)| Oid(*a))
}

/// A one-dimensional array already in PostgreSQL's binary format.
pub(crate) struct EncodedArray {
    type_info: PgTypeInfo,
    bytes: Vec<u8>,
}

impl Type<Postgres> for EncodedArray {
    fn type_info() -> PgTypeInfo {
        // Each value says its own type (`produces`); this is never used.
        <Vec<String> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for EncodedArray {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<IsNull, BoxDynError> {
        buf.extend_from_slice(&self.bytes);
        Ok(IsNull::No)
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.type_info.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_binary_arrays_of_each_position() {
        let mut columns = Columns::default();
        for (id, name) in [(7i64, Some("x")), (8, None)] {
            columns.add(id).unwrap();
            columns.add(name).unwrap();
            columns.end_row().unwrap();
        }
        let arrays: Vec<EncodedArray> = columns.finish().map(Result::unwrap).collect();
        assert_eq!(arrays.len(), 2);
        assert_eq!(arrays[0].type_info.oid(), Some(Oid(1016)));
        assert_eq!(arrays[1].type_info.oid(), Some(Oid(1009)));
        let words = |b: &[u8]| -> Vec<i32> {
            b.chunks(4)
                .take(5)
                .map(|w| i32::from_be_bytes(w.try_into().unwrap()))
                .collect()
        };
        assert_eq!(words(&arrays[0].bytes), vec![1, 0, 20, 2, 1]);
        assert_eq!(words(&arrays[1].bytes), vec![1, 1, 25, 2, 1]);
        // "x" (length 1), then NULL.
        assert_eq!(
            &arrays[1].bytes[20..],
            &[0, 0, 0, 1, b'x', 255, 255, 255, 255]
        );
    }

    #[test]
    fn rows_must_bind_the_same_shape() {
        let mut columns = Columns::default();
        columns.add(1i64).unwrap();
        columns.end_row().unwrap();
        assert!(columns.add("text").is_err());
        let mut columns = Columns::default();
        columns.add(1i64).unwrap();
        columns.add(2i64).unwrap();
        columns.end_row().unwrap();
        columns.add(1i64).unwrap();
        assert!(columns.end_row().is_err());
    }
}
