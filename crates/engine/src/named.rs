//! One name per variant, for enums that are written, stored and read back.

/// An enum whose variants each have one name, in snake case (`no_effect`): written in JSON
/// and messages (`name`), stored in a history and read back. The one mapping of names for
/// every such enum in the workspace; a crate that uses it depends on serde and strum.
#[macro_export]
macro_rules! named {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident,)* }) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            Debug,
            PartialEq,
            Eq,
            serde::Serialize,
            serde::Deserialize,
            strum::IntoStaticStr,
            strum::EnumString,
        )]
        #[strum(serialize_all = "snake_case")]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The name, as written in JSON and messages.
            pub fn name(self) -> &'static str {
                self.into()
            }
        }

        impl TryFrom<String> for $name {
            type Error = strum::ParseError;

            fn try_from(name: String) -> Result<$name, strum::ParseError> {
                name.parse()
            }
        }
    };
}
