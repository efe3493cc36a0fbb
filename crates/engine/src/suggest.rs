//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `name`, if one is close enough to be a likely typo. Case does
/// not count (`NPS` finds `nps`).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        // A distance as large as the name itself is a different name, not a typo (`r` vs `a`).
        .filter(|&(d, c)| d <= limit && d < name.chars().count() && c != name)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let names = ["active_users", "activated_users", "items_created"];
        assert_eq!(did_you_mean("activ_users", names), Some("active_users"));
        assert_eq!(did_you_mean("items_craeted", names), Some("items_created"));
        assert_eq!(did_you_mean("revenue", names), None);
        assert_eq!(did_you_mean("NPS", ["nps", "csat"]), Some("nps"));
        assert_eq!(did_you_mean("Items_Created", names), Some("items_created"));
        assert_eq!(
            did_you_mean("formla", ["formula", "title"]),
            Some("formula")
        );
    }
}
