//! Names of what the history stores: each enum of a stored column has one name per value
//! (from strum), written to the database, printed in JSON and tables, and read back.

/// Gives each enum one name, from strum: stored in the history, printed and read back.
macro_rules! stored_name {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident,)* }) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            Debug,
            PartialEq,
            Eq,
            serde::Serialize,
            strum::IntoStaticStr,
            strum::EnumString,
        )]
        #[strum(serialize_all = "lowercase")]
        #[serde(into = "&'static str")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The name stored in the history and printed.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
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
    };
}

pub(crate) use stored_name;
