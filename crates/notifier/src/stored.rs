//! Enums of stored columns: each is `canopy_engine::named!` (one name per value, written to
//! the database, printed in JSON and tables, and read back), and `stored!` lets rusqlite
//! bind and read it by that name.

/// Binds and reads each of the `named!` enums given by its name.
macro_rules! stored {
    ($($name:ident),* $(,)?) => {$(
        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.name()))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<$name> {
                let text = value.as_str()?;
                text.parse().map_err(|_| {
                    let why = format!("`{text}` is not {} the history knows", stringify!($name));
                    rusqlite::types::FromSqlError::Other(why.into())
                })
            }
        }
    )*};
}

pub(crate) use stored;
