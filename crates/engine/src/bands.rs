//! Bands: named ranges of a metric's value, lowest first, and the direction of good.

/// One named range. A value is in the first band whose `below` it is under; the last band has
/// no upper bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// The band's name, as shown to people ("Healthy").
    pub name: String,
    /// Exclusive upper bound; `None` only for the last band.
    pub below: Option<f64>,
}

/// A metric's bands, validated: bounds strictly increasing, only the last unbounded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bands {
    bands: Vec<Band>,
}

impl Bands {
    /// Wraps bands that the engine has validated.
    pub(crate) fn new(bands: Vec<Band>) -> Bands {
        Bands { bands }
    }

    /// The bands, lowest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Band> {
        self.bands.iter()
    }

    /// Whether the metric has no bands.
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }

    /// The index of the band `value` falls in, if the metric has bands.
    pub fn classify(&self, value: f64) -> Option<usize> {
        if self.bands.is_empty() {
            return None;
        }
        let i = self
            .bands
            .iter()
            .position(|b| b.below.is_none_or(|below| value < below))
            .unwrap_or(self.bands.len() - 1);
        Some(i)
    }

    /// The name of the band `value` falls in, if the metric has bands.
    pub fn name_of(&self, value: f64) -> Option<&str> {
        self.classify(value).map(|i| self.bands[i].name.as_str())
    }

    /// The band at `index`.
    pub fn get(&self, index: usize) -> Option<&Band> {
        self.bands.get(index)
    }
}

/// Which direction of change is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Good {
    /// Higher is better.
    Up,
    /// Lower is better.
    Down,
}

impl Good {
    /// The names written in a tree file (`good: up`), and in JSON.
    pub const NAMES: [&'static str; 2] = ["up", "down"];
    /// The directions, in the order of [`Good::NAMES`].
    pub const ALL: [Good; 2] = [Good::Up, Good::Down];

    /// The name written in a tree file and in JSON.
    pub fn name(self) -> &'static str {
        Good::NAMES[self as usize]
    }

    /// Whether a change of `delta` is an improvement.
    pub fn improves(self, delta: f64) -> bool {
        match self {
            Good::Up => delta > 0.0,
            Good::Down => delta < 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_uses_exclusive_upper_bounds() {
        let band = |name: &str, below| Band {
            name: name.into(),
            below,
        };
        let bands = Bands::new(vec![
            band("At risk", Some(1.0)),
            band("Light", Some(2.0)),
            band("Healthy", Some(5.0)),
            band("Strong", None),
        ]);
        let name = |v| bands.get(bands.classify(v).unwrap()).unwrap().name.clone();
        assert_eq!(name(0.5), "At risk");
        assert_eq!(name(1.0), "Light");
        assert_eq!(name(4.99), "Healthy");
        assert_eq!(name(5.0), "Strong");
        assert_eq!(Bands::default().classify(3.0), None);
    }
}
