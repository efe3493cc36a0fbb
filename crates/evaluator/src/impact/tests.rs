//! The method's figures, reproduced, and its calibration on simulated series.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

use super::*;

/// The logs of the test series: 1000 e^{n_t}, times `m` from the ship date t = 60 on.
fn series(m: f64) -> Vec<f64> {
    (0..=66)
        .map(|t| {
            let t = t as f64;
            let noise = 0.02 * (1.7 * t).sin() + 0.01 * (0.45 * t).sin();
            (1000.0 * noise.exp() * if t >= 60.0 { m } else { 1.0 }).ln()
        })
        .collect()
}

fn run(m: f64) -> (Test, Verdict, bool) {
    let test = test(
        &series(m),
        None,
        Fit::Difference,
        60,
        Window::default(),
        1.0,
    )
    .unwrap();
    let (verdict, smaller) = judge(&test, 1.0, Some(1.05f64.ln()));
    (test, verdict, smaller)
}

fn close(a: f64, b: f64, tolerance: f64) {
    assert!((a - b).abs() <= tolerance, "{a} is not {b}");
}

/// As the effect is reported: e^x - 1, in percent.
fn pct(x: f64) -> f64 {
    (x.exp() - 1.0) * 100.0
}

#[test]
fn the_calibration_of_the_test_series() {
    let (t, _, _) = run(1.10);
    let placebo = t.placebo.expect("calibrated");
    assert_eq!(placebo.dates, 28);
    assert_eq!(t.baseline, 26);
    close(t.estimate.rho, 0.054604, 1e-6);
    close(t.estimate.se, 0.0076305, 1e-7);
    close(t.se_star, 0.0076305, 1e-7);
}

#[test]
fn a_ten_percent_lift_is_confirmed() {
    let (t, verdict, smaller) = run(1.10);
    close(t.estimate.tau, 0.090005, 1e-6);
    close(pct(t.estimate.tau), 9.42, 0.005);
    close(pct(t.low), 8.00, 0.005);
    close(pct(t.high), 10.85, 0.005);
    close(t.p, 0.034483, 1e-6);
    assert_eq!((verdict, smaller), (Verdict::Confirmed, false));
}

#[test]
fn a_three_percent_lift_is_confirmed_but_smaller_than_expected() {
    let (t, verdict, smaller) = run(1.03);
    close(t.estimate.tau, 0.024254, 1e-6);
    close(pct(t.estimate.tau), 2.46, 0.005);
    close(pct(t.low), 1.13, 0.005);
    close(pct(t.high), 3.80, 0.005);
    close(t.p, 0.034483, 1e-6);
    assert_eq!((verdict, smaller), (Verdict::Confirmed, true));
}

#[test]
fn no_lift_rules_out_the_expected_size() {
    let (t, verdict, _) = run(1.00);
    close(t.estimate.tau, -0.005305, 1e-6);
    close(pct(t.estimate.tau), -0.53, 0.005);
    close(pct(t.low), -1.82, 0.005);
    close(pct(t.high), 0.78, 0.005);
    close(t.p, 0.82759, 1e-5);
    assert_eq!(verdict, Verdict::NoEffect);
}

#[test]
fn a_drop_is_the_opposite() {
    let (t, verdict, _) = run(0.92);
    close(t.estimate.tau, -0.088686, 1e-6);
    close(pct(t.estimate.tau), -8.49, 0.005);
    close(pct(t.low), -9.67, 0.005);
    close(pct(t.high), -7.29, 0.005);
    close(t.p_opposite, 0.034483, 1e-6);
    assert_eq!(verdict, Verdict::Opposite);
}

#[test]
fn too_little_history_is_not_evaluable_and_little_is_not_calibrated() {
    let u = series(1.10);
    let short = &u[50..];
    let e = test(short, None, Fit::Difference, 10, Window::default(), 1.0).unwrap_err();
    // Worded "the data has 10 periods before shipping; ..." by canopy-present.
    assert_eq!(e, Reason::FewBaseline { periods: 10 });
    // 30 periods before shipping: 12 to 26 baseline periods leave fewer than 19 placebos.
    let t = test(&u[30..], None, Fit::Difference, 30, Window::default(), 1.0).unwrap();
    assert_eq!(t.placebo, None);
    // A lift the t test alone passes is no verdict without the false-alarm check.
    assert!(t.p <= ALPHA, "{}", t.p);
    assert_eq!(judge(&t, 1.0, None).0, Verdict::Inconclusive);
    // 40 before: the baseline shrinks to 15 so that 19 placebo dates fit.
    let t = test(&u[20..], None, Fit::Difference, 40, Window::default(), 1.0).unwrap();
    assert_eq!((t.baseline, t.placebo.unwrap().dates), (15, 19));
}

#[test]
fn missing_values_beyond_a_tenth_make_a_change_not_evaluable() {
    let mut u = series(1.10);
    for t in [40, 45, 50] {
        u[t] = f64::NAN;
    }
    let e = test(&u, None, Fit::Difference, 60, Window::default(), 1.0).unwrap_err();
    // Worded "12% of the metric's values in the baseline are missing" by canopy-present.
    assert!(
        matches!(
            e,
            Reason::Missing { series: Tested::Metric, window: Stretch::Baseline, share }
                if (share * 100.0).round() == 12.0
        ),
        "{e:?}"
    );
    u[45] = 0.5f64.ln();
    u[40] = 0.5f64.ln();
    assert!(test(&u, None, Fit::Difference, 60, Window::default(), 1.0).is_ok());
}

#[test]
fn holm_adjusts_step_down_and_keeps_the_order() {
    let adjusted = holm(&[0.04, 0.01, 0.03]);
    close(adjusted[1], 0.03, 1e-12);
    close(adjusted[2], 0.06, 1e-12);
    close(adjusted[0], 0.06, 1e-12);
}

/// How a simulated series' noise is made.
#[derive(Clone, Copy)]
enum Noise {
    White,
    Ar1,
    RandomWalk,
}

/// The share of `runs` simulated series confirmed: 80 periods before shipping, noise of
/// sd 0.03 on logs, times `lift` after.
fn confirmed_share(noise: Noise, lift: f64, seed: u64, runs: usize) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let (s, window) = (80, Window::default());
    let mut confirmed = 0;
    for _ in 0..runs {
        let mut u = Vec::with_capacity(super::end(window, s));
        let (mut ar, mut walk) = (0.0, 0.0);
        for t in 0..super::end(window, s) {
            let e: f64 = rng.sample::<f64, _>(StandardNormal) * 0.03;
            let x = match noise {
                Noise::White => e,
                Noise::Ar1 => {
                    // Stationary AR(1) with rho 0.5 and the same marginal sd.
                    ar = 0.5 * ar + e * (1.0f64 - 0.25).sqrt();
                    ar
                }
                Noise::RandomWalk => {
                    walk += rng.sample::<f64, _>(StandardNormal) * 0.01;
                    walk + e
                }
            };
            u.push(x + if t >= s { lift.ln() } else { 0.0 });
        }
        let t = test(&u, None, Fit::Difference, s, window, 1.0).unwrap();
        if judge(&t, 1.0, Some(1.05f64.ln())).0 == Verdict::Confirmed {
            confirmed += 1;
        }
    }
    confirmed as f64 / runs as f64
}

#[test]
fn noise_is_rarely_called_success() {
    let white = confirmed_share(Noise::White, 1.0, 1, 2000);
    let ar1 = confirmed_share(Noise::Ar1, 1.0, 2, 2000);
    let walk = confirmed_share(Noise::RandomWalk, 1.0, 3, 2000);
    assert!(white <= 0.06, "white noise confirmed in {white}");
    assert!(ar1 <= 0.06, "AR(1) noise confirmed in {ar1}");
    assert!(walk <= 0.08, "a random walk confirmed in {walk}");
}

#[test]
fn a_ten_percent_step_is_found() {
    let white = confirmed_share(Noise::White, 1.10, 4, 2000);
    let ar1 = confirmed_share(Noise::Ar1, 1.10, 5, 2000);
    assert!(white >= 0.95, "a step in white noise confirmed in {white}");
    assert!(ar1 >= 0.90, "a step in AR(1) noise confirmed in {ar1}");
}
