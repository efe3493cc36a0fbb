//! Numbers for people: readable precision, grouped thousands, signs on changes.

use canopy_engine::ChangeIn;

/// A number with precision to suit its size: thousands grouped from 1,000 up (the one rule
/// of every table and email), about four significant digits for small values, no trailing
/// zeros, never `-0`. Values too small or too large to
/// read that way (under 0.0001, from a quadrillion up) are written in scientific notation
/// with four significant digits, so that a reader sees the real value, not `0`.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if !(1e-4..1e15).contains(&a) {
        return scientific(v);
    }
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 || a == 0.0 {
        2
    } else {
        // Four significant digits below one, e.g. 0.004567.
        (3 - a.log10().floor() as i32).clamp(2, 12) as usize
    };
    let text = format!("{:.*}", decimals, v);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    group_thousands(&text)
}

/// How small a computed number may be, relative to the numbers it was computed from, and
/// still be nothing but rounding. A double carries about 16 significant digits and a formula
/// of a few steps loses a few of them, so a result under a billionth of its inputs' size
/// says nothing about the data: `0.5 - (0.3 + 0.2)` is `-2.8e-17`, not a finding.
pub const RESIDUE: f64 = 1e-9;

/// `v`, or 0 when it is zero to the precision of the values it was computed from: when
/// `|v| <= RESIDUE * scale`, `scale` being the largest magnitude among those values (for an
/// explanation, the metric's values and the contributions in its unit). Text uses this;
/// JSON keeps every digit.
pub fn settled(v: f64, scale: f64) -> f64 {
    if v.abs() <= RESIDUE * scale.abs() {
        0.0
    } else {
        v
    }
}

/// [`number`] of `v` computed from values as large as `scale`: a rounding residue is `0`.
pub fn number_at(v: f64, scale: f64) -> String {
    number(settled(v, scale))
}

/// [`signed`] of `v` computed from values as large as `scale`: a rounding residue is `0`.
pub fn signed_at(v: f64, scale: f64) -> String {
    signed(settled(v, scale))
}

/// A title with its id, as people read it: `Items created (items_created)`; the title alone
/// when it is the id or already names it, and the id after a dash when the title ends with a
/// parenthesis of its own (`Detractors (0-6) - detractors`, not `(0-6) (detractors)`).
pub fn titled(title: &str, id: &str) -> String {
    if title == id || title.contains(&format!("({id})")) {
        title.to_string()
    } else if title.ends_with(')') {
        format!("{title} - {id}")
    } else {
        format!("{title} ({id})")
    }
}

/// `v` as `1.234e-7`, trailing zeros of the mantissa left out.
fn scientific(v: f64) -> String {
    let text = format!("{v:.3e}");
    let (mantissa, exponent) = text
        .split_once('e')
        .expect("`e` formatting has an exponent");
    let mantissa = match mantissa.contains('.') {
        true => mantissa.trim_end_matches('0').trim_end_matches('.'),
        false => mantissa,
    };
    format!("{mantissa}e{exponent}")
}

fn group_thousands(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    if int.len() <= 3 {
        return text.to_string();
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

pub use canopy_evaluator::pct_change;

/// A change as it is told for a metric: in points (`-18.86 pts`), or relative (`-22.6%`,
/// and the difference when `before` is zero).
pub fn told(before: f64, after: f64, kind: ChangeIn) -> String {
    match kind {
        ChangeIn::Points => format!("{} pts", signed(after - before)),
        ChangeIn::Relative => {
            pct_change(before, after).map_or_else(|| signed(after - before), percent)
        }
    }
}

/// A move from `before` to `after`: `1.96 -> 1.98 unit (+0.02, +1.0%)`, the percentage left
/// out when `before` is zero; in points, `83.38 -> 64.52 % (-18.86 pts)`.
pub fn change(before: f64, after: f64, unit: Option<&str>, kind: ChangeIn) -> String {
    let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
    if kind == ChangeIn::Points {
        let pts = told(before, after, kind);
        return format!("{} -> {}{unit} ({pts})", number(before), number(after));
    }
    let pct = pct_change(before, after).map_or(String::new(), |p| format!(", {}", percent(p)));
    format!(
        "{} -> {}{unit} ({}{pct})",
        number(before),
        number(after),
        signed(after - before)
    )
}

/// A change with its sign.
pub fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", number(v))
    } else {
        number(v)
    }
}

/// A percentage change with its sign, one decimal; one that rounds to zero is `0.0%`.
pub fn percent(v: f64) -> String {
    let text = format!("{v:.1}");
    match text.as_str() {
        "0.0" | "-0.0" => "0.0%".to_string(),
        _ if v > 0.0 => format!("+{text}%"),
        _ => format!("{text}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        let cases = [
            (8.0, "8"),
            (3.846153, "3.85"),
            (0.004567, "0.004567"),
            (250000.0, "250,000"),
            (1234.0, "1,234"),
            (-12345.678, "-12,346"),
            (123.456, "123.5"),
            (0.0, "0"),
            (0.5, "0.5"),
        ];
        for (v, expected) in cases {
            assert_eq!(number(v), expected, "{v}");
        }
        assert_eq!(signed(2.5), "+2.5");
        assert_eq!(percent(-2.54), "-2.5%");
    }

    #[test]
    fn rounding_residue_reads_as_zero() {
        // The mix of a segment whose weight did not change, from the starter tree.
        assert_eq!(signed_at(-1.11e-16, 2.58), "0");
        assert_eq!(signed_at(7.459e-17, 2.58), "0");
        assert_eq!(number_at(0.5 - (0.3 + 0.2), 0.5), "0");
        // A small number that the data carries is shown as it is.
        assert_eq!(signed_at(-0.001973, 2.58), "-0.001973");
        assert_eq!(signed_at(-1e-300, 1e-299), "-1e-300");
        assert_eq!(signed_at(-0.2732, 2.58), "-0.2732");
    }

    proptest::proptest! {
        /// No printed difference of two values is a rounding residue of them: where the
        /// values are equal in exact arithmetic (`x` and `x` rebuilt from parts) the text is
        /// `0`, and where they differ by more than the residue it is not.
        #[test]
        fn no_printed_number_is_a_rounding_residue(
            x in -1e12f64..1e12,
            parts in 1usize..8,
            shift in -1e12f64..1e12,
        ) {
            let piece = x / parts as f64;
            let rebuilt = (0..parts).fold(shift, |sum, _| sum + piece) - shift;
            let scale = x.abs().max(shift.abs());
            proptest::prop_assert_eq!(signed_at(rebuilt - x, scale), "0");
            let real = (x - rebuilt).abs().max(scale * RESIDUE) * 4.0 + f64::MIN_POSITIVE;
            proptest::prop_assert_ne!(signed_at(real, scale), "0");
        }
    }

    #[test]
    fn a_title_names_its_id_once() {
        assert_eq!(
            titled("Items created", "items_created"),
            "Items created (items_created)"
        );
        assert_eq!(titled("nps", "nps"), "nps");
        assert_eq!(
            titled("Net Promoter Score (nps)", "nps"),
            "Net Promoter Score (nps)"
        );
        assert_eq!(
            titled("Detractors (0-6)", "detractors"),
            "Detractors (0-6) - detractors"
        );
    }

    #[test]
    fn tiny_and_huge_values_read_as_what_they_are() {
        assert_eq!(number(1e-300), "1e-300");
        assert_eq!(number(-1e-300), "-1e-300");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.00012345), "0.0001234");
        assert_eq!(number(0.000012345), "1.234e-5");
        assert_eq!(number(2.5e18), "2.5e18");
        assert_eq!(signed(-2e-300), "-2e-300");
        assert_eq!(
            change(1e-300, -1e-300, None, ChangeIn::Relative),
            "1e-300 -> -1e-300 (-2e-300, -200.0%)"
        );
        assert_eq!(
            change(46.8, 24.2, Some("pts"), ChangeIn::Points),
            "46.8 -> 24.2 pts (-22.6 pts)"
        );
        assert_eq!(told(83.38, 64.52, ChangeIn::Points), "-18.86 pts");
        assert_eq!(told(0.0, 5.0, ChangeIn::Relative), "+5");
        assert_eq!(
            change(46.8, 24.2, Some("pts"), ChangeIn::Points),
            "46.8 -> 24.2 pts (-22.6 pts)"
        );
        assert_eq!(told(83.38, 64.52, ChangeIn::Points), "-18.86 pts");
        assert_eq!(told(0.0, 5.0, ChangeIn::Relative), "+5");
        assert_eq!(percent(-0.01), "0.0%");
        assert_eq!(percent(0.04), "0.0%");
    }
}
