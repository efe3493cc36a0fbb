//! What a change's metric was compared with: the model an [`super::Assessment`] names, as a
//! fact `canopy-present` puts in words. It is printed and stored as its name (`level`, `year
//! over year`, `regression: a, b`, `segments: country = FR, DE; plan = pro`), written and
//! read back by the one mapping here, so every history keeps reading as it was written.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How the counterfactual was built: what the metric was compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Model {
    /// No control: the metric against its own level before shipping.
    Level,
    /// The same periods a year before.
    YearOverYear,
    /// A regression on the mean of control metrics.
    Regression {
        /// The control metrics' ids.
        controls: Vec<String>,
    },
    /// The metric pooled over control segments.
    Segments {
        /// Each dimension with its values.
        segments: Vec<(String, Vec<String>)>,
    },
    /// A stored name that reads back as no other model (a segment's value holding `; ` can
    /// make one), kept as it was.
    Text(String),
}

const LEVEL: &str = "level";
const YEAR_OVER_YEAR: &str = "year over year";
const REGRESSION: &str = "regression";
const SEGMENTS: &str = "segments";

impl Model {
    /// Its name, as `canopy impact --format json` prints it and the history stores it.
    pub fn name(&self) -> String {
        match self {
            Model::Level => LEVEL.to_string(),
            Model::YearOverYear => YEAR_OVER_YEAR.to_string(),
            Model::Regression { controls } => format!("{REGRESSION}: {}", controls.join(", ")),
            Model::Segments { segments } => {
                let parts: Vec<String> = (segments.iter())
                    .map(|(d, v)| format!("{d} = {}", v.join(", ")))
                    .collect();
                format!("{SEGMENTS}: {}", parts.join("; "))
            }
            Model::Text(name) => name.clone(),
        }
    }

    /// The model named `name`: whatever it is, its [`Model::name`] is `name` again.
    pub fn named(name: &str) -> Model {
        let read = match name.split_once(": ") {
            None if name == LEVEL => Some(Model::Level),
            None if name == YEAR_OVER_YEAR => Some(Model::YearOverYear),
            Some((REGRESSION, ids)) => Some(Model::Regression {
                controls: ids.split(", ").map(str::to_string).collect(),
            }),
            Some((SEGMENTS, described)) => {
                segments(described).map(|s| Model::Segments { segments: s })
            }
            _ => None,
        };
        (read.filter(|m| m.name() == name)).unwrap_or_else(|| Model::Text(name.to_string()))
    }
}

/// The dimensions and values of `d = v, w; e = x`; `None` where a part has no ` = `.
fn segments(described: &str) -> Option<Vec<(String, Vec<String>)>> {
    if described.is_empty() {
        return Some(Vec::new());
    }
    (described.split("; "))
        .map(|part| {
            let (d, values) = part.split_once(" = ")?;
            Some((
                d.to_string(),
                values.split(", ").map(str::to_string).collect(),
            ))
        })
        .collect()
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Model, D::Error> {
        String::deserialize(d).map(|name| Model::named(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_name_reads_back_as_itself(name in "(level|year over year|regression: |segments: )?[a-z =,;]{0,24}") {
            prop_assert_eq!(Model::named(&name).name(), name);
        }
    }
}
