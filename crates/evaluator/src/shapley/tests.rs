//! Properties of the Shapley shares, on random formulas and values.

use canopy_engine::formula::{self, Expr};
use proptest::prelude::*;

use super::*;

/// Compiles `text` over inputs named a, b, c, ... in order.
fn compile(text: &str, n: usize) -> Expr<usize> {
    let names: Vec<String> = (0..n)
        .map(|i| ((b'a' + i as u8) as char).to_string())
        .collect();
    formula::parse(text)
        .unwrap()
        .expr
        .map_vars(&mut |v: &String| Expr::Var(names.iter().position(|n| n == v).unwrap()))
}

fn shares_of(text: &str, x0: &[f64], x1: &[f64]) -> (Vec<f64>, Method) {
    let expr = compile(text, x0.len());
    let f = canopy_engine::Formula::for_tests(text, expr, x0.len());
    let plan = Plan::new(&f);
    let mut phi = Vec::new();
    let method = shares(&f, &plan, x0, x1, &mut phi, &mut Scratch::default());
    (phi, method)
}

fn assert_close(a: f64, b: f64, scale: f64) {
    assert!((a - b).abs() <= 1e-9 * scale.max(1e-12), "{a} != {b}");
}

#[test]
fn closed_forms_are_chosen_by_shape() {
    assert_eq!(
        shares_of("a + 2 * b - c / 4", &[1.0, 1.0, 1.0], &[2.0, 3.0, 5.0]).1,
        Method::Sum
    );
    assert_eq!(
        shares_of("sum(a, b) * 3", &[1.0, 1.0], &[2.0, 3.0]).1,
        Method::Sum
    );
    assert_eq!(
        shares_of("a * b / c", &[1.0, 1.0, 1.0], &[2.0, 3.0, 5.0]).1,
        Method::Product
    );
    assert_eq!(
        shares_of("-2 * a * b^2", &[1.0, 1.0], &[2.0, 3.0]).1,
        Method::Product
    );
    assert_eq!(
        shares_of("a / (b + c)", &[1.0, 1.0, 1.0], &[2.0, 3.0, 5.0]).1,
        Method::Exact
    );
}

#[test]
fn linear_formulas_give_the_obvious_answer() {
    let (phi, _) = shares_of("a + 2 * b", &[1.0, 1.0], &[4.0, 6.0]);
    assert_eq!(phi, [3.0, 10.0]);
}

#[test]
fn symmetric_inputs_get_equal_shares() {
    // a * b with both doubling: 1*1 -> 2*2, a change of 3 split 1.5 / 1.5.
    let (phi, _) = shares_of("a * b", &[1.0, 1.0], &[2.0, 2.0]);
    assert_eq!(phi, [1.5, 1.5]);
    let (phi, m) = shares_of("a * b / (a + b)", &[1.0, 1.0], &[3.0, 3.0]);
    assert_eq!(m, Method::Exact);
    assert_close(phi[0], phi[1], 1.0);
}

#[test]
fn zeros_and_sign_changes_are_fine() {
    let (phi, _) = shares_of("a * b", &[0.0, 5.0], &[2.0, -5.0]);
    assert_eq!(phi.iter().sum::<f64>(), -10.0);
    let (phi, _) = shares_of("a - b", &[-1.0, 1.0], &[1.0, -1.0]);
    assert_eq!(phi, [2.0, 2.0]);
}

#[test]
fn an_undefined_coalition_falls_back_to_the_gradient() {
    // b - c is zero at (b1, c0) = (2, 2) though defined at both ends.
    let (phi, m) = shares_of("a / (b - c)", &[1.0, 1.0, 0.0], &[1.5, 2.0, 1.0]);
    assert_eq!(m, Method::Gradient);
    let d = 1.5 / 1.0 - 1.0 / 1.0;
    assert_close(phi.iter().sum(), d, 1.0);
}

#[test]
fn wide_formulas_are_sampled_and_still_sum_exactly() {
    let n = MAX_EXACT + 4;
    let text = (0..n)
        .map(|i| ((b'a' + i as u8) as char).to_string())
        .collect::<Vec<_>>()
        .join(" * ")
        + " / (a + b)";
    let x0: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / 100.0).collect();
    let x1: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / 90.0).collect();
    let expr = compile(&text, n);
    let (phi, m) = shares_of(&text, &x0, &x1);
    let Method::Sampled { orders, max_error } = m else {
        panic!("{m:?}")
    };
    assert_eq!(orders, 256);
    assert!(max_error.is_finite() && max_error > 0.0, "{max_error}");
    let d = expr.eval(&|&i| x1[i]).unwrap() - expr.eval(&|&i| x0[i]).unwrap();
    assert_close(phi.iter().sum(), d, 1.0);
    assert!(phi.iter().all(|v| v.is_finite()));
}

/// `max` of `n` inputs that all moved alike from 1 to 2, one of them from 1.5 to 2.
fn max_of(n: usize) -> (String, Vec<f64>, Vec<f64>) {
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let text = format!("max({})", names.join(", "));
    let mut x0 = vec![1.0; n];
    x0[n - 1] = 1.5;
    (text, x0, vec![2.0; n])
}

fn shares_of_named(text: &str, x0: &[f64], x1: &[f64]) -> (Vec<f64>, Method) {
    let n = x0.len();
    let expr = formula::parse(text)
        .unwrap()
        .expr
        .map_vars(&mut |v: &String| Expr::Var(v[1..].parse::<usize>().unwrap()));
    let f = canopy_engine::Formula::for_tests(text, expr, n);
    let mut phi = Vec::new();
    let method = shares(
        &f,
        &Plan::new(&f),
        x0,
        x1,
        &mut phi,
        &mut Scratch::default(),
    );
    (phi, method)
}

/// `max` is 1.5 before and 2 after as soon as any input has switched, so every input is the
/// same player: each exact share is 0.5 / n, though one input started elsewhere.
#[test]
fn up_to_twenty_inputs_are_enumerated_and_symmetric_inputs_share_equally_at_every_width() {
    for n in 2..=MAX_EXACT + 4 {
        let (text, x0, x1) = max_of(n);
        let (phi, method) = shares_of_named(&text, &x0, &x1);
        assert_close(phi.iter().sum(), 0.5, 1.0);
        let exact = 0.5 / n as f64;
        match method {
            Method::Exact => phi.iter().for_each(|&v| assert_close(v, exact, 1.0)),
            Method::Sampled { max_error, .. } => {
                assert!(n > MAX_EXACT, "{n}");
                // The inputs that moved alike get exactly equal shares, all within the
                // stated error of the exact value.
                assert!(phi[..n - 1].iter().all(|&v| v == phi[0]), "{n}: {phi:?}");
                for &v in &phi {
                    assert!(
                        (v - exact).abs() <= max_error,
                        "{n}: {v} vs {exact} ± {max_error}"
                    );
                }
            }
            m => panic!("{n}: {m:?}"),
        }
    }
}

#[test]
fn sums_of_wide_terms_are_decomposed_exactly() {
    let text = "a * b + c / (d + a) - 2 * b * c";
    let x0 = [1.0, 2.0, 3.0, 4.0];
    let x1 = [2.0, 1.0, 5.0, 3.0];
    let (phi, method) = shares_of(text, &x0, &x1);
    assert_eq!(method, Method::Decomposed);
    let expr = compile(text, 4);
    let mut enumerated = vec![0.0; 4];
    let mut scratch = Scratch::default();
    exact(
        &Program::new(&expr),
        &weights(4),
        &x0,
        &x1,
        &mut enumerated,
        &mut scratch,
    );
    for (d, e) in phi.iter().zip(&enumerated) {
        assert_close(*d, *e, 10.0);
    }
}

/// Random formulas over inputs 0..n, shaped like the ones product trees use.
fn arb_formula(n: usize) -> impl Strategy<Value = Expr<usize>> {
    let leaf = prop_oneof![
        (0..n).prop_map(Expr::Var),
        (1u32..5).prop_map(|k| Expr::Num(f64::from(k)))
    ];
    leaf.prop_recursive(4, 24, 3, move |inner| {
        let op = prop_oneof![Just(BinOp::Add), Just(BinOp::Sub), Just(BinOp::Mul), Just(BinOp::Div)];
        prop_oneof![
            4 => (op, inner.clone(), inner.clone()).prop_map(|(op, a, b)| Expr::Bin(op, Box::new(a), Box::new(b))),
            1 => inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
            1 => prop::collection::vec(inner.clone(), 1..3).prop_map(|a| Expr::Call(Func::Max, a)),
            1 => (inner.clone(), inner).prop_map(|(a, b)| Expr::Call(Func::Sum, vec![a, b])),
        ]
    })
}

fn values(n: usize) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<bool>)> {
    (
        prop::collection::vec(prop_oneof![Just(0.0), -50.0..50.0f64, 0.5..5.0f64], n),
        prop::collection::vec(prop_oneof![Just(0.0), -50.0..50.0f64, 0.5..5.0f64], n),
        prop::collection::vec(any::<bool>(), n),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_global_rejects: 4000, ..ProptestConfig::default() })]

    /// Shares sum to the change, unchanged inputs get exactly zero, nothing is NaN.
    #[test]
    fn shares_are_exact((expr, (x0, x1, keep)) in (1usize..6).prop_flat_map(|n| (arb_formula(n), values(n)))) {
        let n = x0.len();
        // Some inputs do not change at all.
        let x1: Vec<f64> = (0..n).map(|i| if keep[i] { x0[i] } else { x1[i] }).collect();
        let f = canopy_engine::Formula::for_tests(&expr.to_string(), expr.clone(), n);
        // Inputs the formula does not use are players too; they must get exactly zero.
        let (f0, f1) = (expr.eval(&|&i| x0[i]), expr.eval(&|&i| x1[i]));
        prop_assume!(f0.is_ok() && f1.is_ok());
        let d = f1.unwrap() - f0.unwrap();
        let mut phi = Vec::new();
        let method = shares(&f, &Plan::new(&f), &x0, &x1, &mut phi, &mut Scratch::default());
        prop_assert!(phi.iter().all(|v| v.is_finite()), "{:?} by {:?}", phi, method);
        for i in 0..n {
            let mut used = Vec::new();
            vars(&expr, &mut used);
            if x0[i] == x1[i] || !used.contains(&i) {
                prop_assert_eq!(phi[i], 0.0, "unchanged or unused input {} by {:?}", i, method);
            }
        }
        let scale = f0.unwrap().abs().max(f1.unwrap().abs()).max(phi.iter().map(|v| v.abs()).sum());
        prop_assert!((phi.iter().sum::<f64>() - d).abs() <= 1e-9 * scale.max(1e-12), "sum {} != change {} by {:?}", phi.iter().sum::<f64>(), d, method);
    }

    /// The closed forms give the same shares as enumerating every coalition.
    #[test]
    fn closed_forms_agree_with_enumeration(x0 in prop::collection::vec(0.5..5.0f64, 4), x1 in prop::collection::vec(0.5..5.0f64, 4)) {
        for text in ["a + 2 * b - c / 4 + d", "3 * a * b / c * d", "a * b / (c * d)", "-a * a * b / (c * d * d)", "2 * a * b^2 / c * abs(d)"] {
            let expr = compile(text, 4);
            let (closed, method) = shares_of(text, &x0, &x1);
            prop_assert_ne!(method, Method::Exact);
            let mut enumerated = vec![0.0; 4];
            exact(&Program::new(&expr), &weights(4), &x0, &x1, &mut enumerated, &mut Scratch::default());
            for (c, e) in closed.iter().zip(&enumerated) {
                prop_assert!((c - e).abs() <= 1e-9 * c.abs().max(e.abs()).max(1.0), "{}: {:?} vs {:?}", text, closed, enumerated);
            }
        }
    }
}
