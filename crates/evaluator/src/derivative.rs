//! Exact partial derivatives of formulas by forward-mode differentiation: each node carries
//! its value and its derivative in one input (a dual number), so the result is exact to
//! rounding for every formula the language has, with no difference quotient.
//!
//! Where the derivative does not exist at the point, a stated rule decides, and the result
//! says it was used:
//! - at a continuous kink (`abs` at 0, tied `min` or `max` arguments, `clamp` at a bound, and
//!   any nesting of them), the mean of the one-sided derivatives of the **whole formula**.
//!   Both are exact: forward mode in a direction (the input moving up, then down) picks, at
//!   each tie, the argument the move makes extreme, and `abs` at 0 the side the move goes to,
//!   which is the directional derivative of the composition (the chain rule holds for one-sided
//!   derivatives of piecewise smooth functions). So an input whose both one-sided slopes through
//!   the formula are zero gets 0 (`max(min(x, c), d)` at `x = c = d`), where a mean taken kink
//!   by kink would give it a share;
//! - an `if` whose condition sits on its threshold takes the derivative of the branch the
//!   formula takes at that point;
//! - where even one-sided derivatives are infinite (`x ^ 0.5` at 0), the derivative is taken
//!   as 0.

use canopy_engine::formula::{compare, BinOp, Expr, Func};

/// A value and its derivative in one direction.
#[derive(Clone, Copy, Debug)]
struct Dual {
    v: f64,
    d: f64,
}

const UNDEFINED: Dual = Dual {
    v: f64::NAN,
    d: f64::NAN,
};

/// A partial derivative at a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Slope {
    /// The derivative (0 where it is infinite).
    pub(crate) slope: f64,
    /// Whether a rule for a point without a derivative decided it.
    pub(crate) kink: bool,
}

/// One pass of forward mode: the input that moves, which way, and what the pass met.
struct Pass<'a> {
    x: &'a [f64],
    i: usize,
    /// `1.0` for the derivative from the right, `-1.0` for the one from the left (negated).
    direction: f64,
    /// A tie or `abs` at 0 where the direction decided the derivative.
    sided: bool,
    /// An `if` on its threshold whose sides move apart.
    threshold: bool,
}

/// The partial derivative of `expr` in input `i` at `x`, or `None` where the formula is
/// undefined at `x`.
pub(crate) fn partial(expr: &Expr<usize>, x: &[f64], i: usize) -> Option<Slope> {
    let mut up = Pass {
        x,
        i,
        direction: 1.0,
        sided: false,
        threshold: false,
    };
    let right = up.dual(expr);
    if !right.v.is_finite() {
        return None;
    }
    // Where no direction decided anything the formula is smooth here in `i`, and the
    // derivative from the left is the same.
    let left = match up.sided {
        false => right.d,
        true => {
            let mut down = Pass {
                direction: -1.0,
                sided: false,
                threshold: false,
                ..up
            };
            -down.dual(expr).d
        }
    };
    let kink = up.threshold || right.d != left;
    Some(match right.d.is_finite() && left.is_finite() {
        true => Slope {
            slope: (right.d + left) / 2.0,
            kink,
        },
        false => Slope {
            slope: 0.0,
            kink: true,
        },
    })
}

impl Pass<'_> {
    fn dual(&mut self, e: &Expr<usize>) -> Dual {
        let r = match e {
            Expr::Num(n) => Dual { v: *n, d: 0.0 },
            Expr::Var(j) => Dual {
                v: self.x[*j],
                d: if *j == self.i { self.direction } else { 0.0 },
            },
            Expr::Neg(a) => {
                let a = self.dual(a);
                Dual { v: -a.v, d: -a.d }
            }
            Expr::Bin(op, a, b) => {
                let (a, b) = (self.dual(a), self.dual(b));
                binary(*op, a, b)
            }
            Expr::Call(func, args) => {
                let args: Vec<Dual> = args.iter().map(|a| self.dual(a)).collect();
                self.call(*func, &args)
            }
            Expr::If(c, a, b) => {
                let (l, r) = (self.dual(&c.lhs), self.dual(&c.rhs));
                if !(l.v.is_finite() && r.v.is_finite()) {
                    return UNDEFINED;
                }
                // On the threshold, a move either way may flip the condition: the branch
                // taken here decides.
                self.threshold |= l.v == r.v && l.d != r.d;
                match compare(c.op, l.v, r.v) {
                    true => self.dual(a),
                    false => self.dual(b),
                }
            }
        };
        // As in evaluation, a node that is not finite makes everything above it undefined.
        match r.v.is_finite() {
            true => r,
            false => UNDEFINED,
        }
    }

    /// `min` or `max` of `args`: the extreme argument's derivative; where several tie for
    /// it, the one the move makes extreme (the greatest derivative for `max` in the
    /// direction of the pass, the least for `min`).
    fn extreme(&mut self, args: &[Dual], max: bool) -> Dual {
        if args.iter().any(|a| a.v.is_nan()) {
            return UNDEFINED;
        }
        let pick = |a: f64, b: f64| if max { a.max(b) } else { a.min(b) };
        let v = args
            .iter()
            .map(|a| a.v)
            .reduce(pick)
            .expect("one argument or more");
        let mut tied = args.iter().filter(|a| a.v == v).map(|a| a.d);
        let first = tied.next().expect("the extreme is one of the arguments");
        let d = tied.fold(first, |d, other| {
            self.sided |= other != d;
            pick(d, other)
        });
        Dual { v, d }
    }

    fn call(&mut self, func: Func, args: &[Dual]) -> Dual {
        match func {
            Func::Min => self.extreme(args, false),
            Func::Max => self.extreme(args, true),
            Func::Sum | Func::Avg => {
                let n = if func == Func::Avg {
                    args.len() as f64
                } else {
                    1.0
                };
                Dual {
                    v: args.iter().map(|a| a.v).sum::<f64>() / n,
                    d: args.iter().map(|a| a.d).sum::<f64>() / n,
                }
            }
            Func::Abs => {
                let a = args[0];
                // At 0 the move goes to the positive side whichever way its argument moves.
                self.sided |= a.v == 0.0 && a.d != 0.0;
                Dual {
                    v: a.v.abs(),
                    d: if a.v == 0.0 {
                        a.d.abs()
                    } else {
                        a.v.signum() * a.d
                    },
                }
            }
            Func::Clamp => {
                let (x, lo, hi) = (args[0], args[1], args[2]);
                if lo.v.is_nan() || hi.v.is_nan() || lo.v > hi.v {
                    return UNDEFINED;
                }
                // clamp(x, lo, hi) = min(max(x, lo), hi), kinks included.
                let low = self.extreme(&[x, lo], true);
                self.extreme(&[low, hi], false)
            }
        }
    }
}

fn binary(op: BinOp, a: Dual, b: Dual) -> Dual {
    match op {
        BinOp::Add => Dual {
            v: a.v + b.v,
            d: a.d + b.d,
        },
        BinOp::Sub => Dual {
            v: a.v - b.v,
            d: a.d - b.d,
        },
        BinOp::Mul => Dual {
            v: a.v * b.v,
            d: scaled(a.d, b.v) + scaled(b.d, a.v),
        },
        BinOp::Div if b.v == 0.0 => UNDEFINED,
        BinOp::Div => Dual {
            v: a.v / b.v,
            d: (scaled(a.d, b.v) - scaled(b.d, a.v)) / (b.v * b.v),
        },
        BinOp::Pow => power(a, b),
    }
}

/// `d * v`, where a zero derivative stays zero even when `v` is not finite.
fn scaled(d: f64, v: f64) -> f64 {
    if d == 0.0 {
        0.0
    } else {
        d * v
    }
}

fn power(a: Dual, b: Dual) -> Dual {
    if (a.v == 0.0 && b.v < 0.0) || a.v.is_nan() || b.v.is_nan() {
        return UNDEFINED;
    }
    let v = a.v.powf(b.v);
    // d(a^b) = b a^(b-1) a' + a^b ln(a) b'
    // `a ^ 0` is 1 for every `a` (0 included), so it does not move with `a`.
    let through_base = match (a.d, b.v) {
        (0.0, _) | (_, 0.0) => 0.0,
        (d, _) => b.v * a.v.powf(b.v - 1.0) * d,
    };
    let through_exponent = match b.d {
        0.0 => 0.0,
        d => v * a.v.ln() * d,
    };
    Dual {
        v,
        d: through_base + through_exponent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_engine::formula::parse;

    /// The derivative of `text` (variables a, b, c) in `var` at `x`.
    fn slope(text: &str, x: &[f64], var: usize) -> Slope {
        let names = ["a", "b", "c"];
        let expr = parse(text)
            .unwrap()
            .expr
            .map_vars(&mut |v: &String| Expr::Var(names.iter().position(|n| n == v).unwrap()));
        partial(&expr, x, var).unwrap()
    }

    fn exact(slope: f64) -> Slope {
        Slope { slope, kink: false }
    }

    fn kink(slope: f64) -> Slope {
        Slope { slope, kink: true }
    }

    #[test]
    fn smooth_formulas_are_differentiated_exactly() {
        assert_eq!(
            slope("a * c + 1000000000", &[10.0, 0.0, 2.0], 0),
            exact(2.0)
        );
        assert_eq!(slope("a / b", &[3.0, 4.0, 0.0], 1), exact(-3.0 / 16.0));
        assert_eq!(slope("a ^ 3", &[2.0, 0.0, 0.0], 0), exact(12.0));
        assert_eq!(slope("a ^ 0 + a ^ 1", &[0.0, 0.0, 0.0], 0), exact(1.0));
        assert_eq!(slope("2 ^ a", &[3.0, 0.0, 0.0], 0), exact(8.0 * 2f64.ln()));
        assert_eq!(slope("avg(a, b, a)", &[1.0, 5.0, 0.0], 0), exact(2.0 / 3.0));
        assert_eq!(slope("-a * b", &[1.0, 5.0, 0.0], 0), exact(-5.0));
    }

    #[test]
    fn kinks_take_the_mean_of_the_one_sided_derivatives() {
        assert_eq!(slope("abs(a)", &[0.0, 0.0, 0.0], 0), kink(0.0));
        assert_eq!(slope("abs(a)", &[-2.0, 0.0, 0.0], 0), exact(-1.0));
        assert_eq!(slope("max(a, 2 * b)", &[2.0, 1.0, 0.0], 0), kink(0.5));
        assert_eq!(slope("min(a, b, c)", &[1.0, 1.0, 3.0], 1), kink(0.5));
        assert_eq!(slope("clamp(a, b, c)", &[5.0, 1.0, 5.0], 0), kink(0.5));
        assert_eq!(slope("clamp(a, b, c)", &[3.0, 1.0, 5.0], 0), exact(1.0));
        assert_eq!(slope("clamp(a, b, c)", &[9.0, 1.0, 5.0], 2), exact(1.0));
        // Ties whose sides move alike are no kink.
        assert_eq!(slope("max(a, a)", &[2.0, 0.0, 0.0], 0), exact(1.0));
    }

    /// The rule holds for the formula as a whole: nested kinks take the one-sided slopes
    /// of the composition, not a mean at each kink (which gave 0.25 in all three).
    #[test]
    fn nested_kinks_take_the_one_sided_slopes_of_the_whole_formula() {
        // Up: max(a, a / 2) = a; down: max(-a, a / 2) = -a. Slopes 1 and -1.
        assert_eq!(slope("max(abs(a), a / 2)", &[0.0, 0.0, 0.0], 0), kink(0.0));
        // Up: min(a, b) = b; down: max(a, c) = c. Both slopes 0.
        assert_eq!(slope("max(min(a, b), c)", &[5.0, 5.0, 5.0], 0), exact(0.0));
        assert_eq!(
            slope("clamp(min(a, b), c, 9)", &[5.0, 5.0, 5.0], 0),
            exact(0.0)
        );
        // Up: a + b grows by 1, a - b... only the greater side counts: 2 up, 0 down.
        assert_eq!(slope("max(a + b, 2 * a)", &[1.0, 1.0, 0.0], 0), kink(1.5));
        assert_eq!(slope("abs(abs(a) - 1)", &[0.0, 0.0, 0.0], 0), kink(0.0));
        assert_eq!(slope("abs(abs(a - 1))", &[1.0, 0.0, 0.0], 0), kink(0.0));
        assert_eq!(slope("min(abs(a), 2 * a)", &[0.0, 0.0, 0.0], 0), kink(1.5));
    }

    /// A random piecewise linear formula of a, b, c with small integer constants.
    fn piecewise() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("c".to_string()),
            (-3i32..=3).prop_map(|n| format!("({n})")),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x} + {y})")),
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x} - {y})")),
                (-2i32..=2, inner.clone()).prop_map(|(k, x)| format!("({k}) * {x}")),
                inner.clone().prop_map(|x| format!("{x} / 2")),
                inner.clone().prop_map(|x| format!("abs({x})")),
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("min({x}, {y})")),
                (inner.clone(), inner).prop_map(|(x, y)| format!("max({x}, {y})")),
            ]
        })
    }

    proptest::proptest! {
        /// On piecewise linear formulas at integer points (their kinks sit at rationals of
        /// small denominators), the slope is the mean of the one-sided difference quotients,
        /// which are exact there for a step far below any other kink.
        #[test]
        fn the_slope_is_the_mean_of_the_formulas_one_sided_slopes(
            text in piecewise(), x in proptest::collection::vec(-2i32..=2, 3), var in 0usize..3,
        ) {
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            let names = ["a", "b", "c"];
            let expr = parse(&text).unwrap().expr.map_vars(&mut |v: &String| {
                Expr::Var(names.iter().position(|n| n == v).unwrap())
            });
            let at = |h: f64| {
                let mut y = x.clone();
                y[var] += h;
                expr.eval(&|&i| y[i]).unwrap()
            };
            let h = 1.0 / 65536.0;
            let (up, down) = ((at(h) - at(0.0)) / h, (at(0.0) - at(-h)) / h);
            let got = partial(&expr, &x, var).unwrap();
            proptest::prop_assert!((got.slope - (up + down) / 2.0).abs() < 1e-6, "{}: {:?} vs {} {}", text, got, up, down);
            proptest::prop_assert_eq!(got.kink, (up - down).abs() > 1e-6, "{}", text);
        }
    }

    #[test]
    fn an_if_on_its_threshold_takes_the_branch_it_takes() {
        assert_eq!(
            slope("if(a >= 10, 2 * a, 0)", &[10.0, 0.0, 0.0], 0),
            kink(2.0)
        );
        assert_eq!(
            slope("if(a > 10, 2 * a, 0)", &[10.0, 0.0, 0.0], 0),
            kink(0.0)
        );
        assert_eq!(
            slope("if(b > 10, 2 * a, 0)", &[10.0, 10.0, 0.0], 0),
            exact(0.0)
        );
    }

    #[test]
    fn infinite_slopes_are_zero_and_undefined_points_have_none() {
        assert_eq!(slope("a ^ 0.5", &[0.0, 0.0, 0.0], 0), kink(0.0));
        let expr = parse("a / b")
            .unwrap()
            .expr
            .map_vars(&mut |v: &String| Expr::Var(usize::from(v == "b")));
        assert_eq!(partial(&expr, &[1.0, 0.0], 0), None);
    }
}
