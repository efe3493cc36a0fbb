//! Exact partial derivatives of formulas by forward-mode differentiation: each node carries
//! its value and its derivative in one input (a dual number), so the result is exact to
//! rounding for every formula the language has, with no difference quotient.
//!
//! Where the derivative does not exist at the point, a stated rule decides, and the result
//! says it was used:
//! - at a continuous kink (`abs` at 0, tied `min` or `max` arguments, `clamp` at a bound), the
//!   mean of the one-sided derivatives;
//! - an `if` whose condition sits on its threshold takes the derivative of the branch the
//!   formula takes at that point;
//! - where even one-sided derivatives are infinite (`x ^ 0.5` at 0), the derivative is taken
//!   as 0.

use canopy_engine::formula::{compare, BinOp, Expr, Func};

/// A value and its derivative.
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

/// The partial derivative of `expr` in input `i` at `x`, or `None` where the formula is
/// undefined at `x`.
pub(crate) fn partial(expr: &Expr<usize>, x: &[f64], i: usize) -> Option<Slope> {
    let mut kink = false;
    let r = dual(expr, x, i, &mut kink);
    if !r.v.is_finite() {
        return None;
    }
    Some(match r.d.is_finite() {
        true => Slope { slope: r.d, kink },
        false => Slope {
            slope: 0.0,
            kink: true,
        },
    })
}

fn dual(e: &Expr<usize>, x: &[f64], i: usize, kink: &mut bool) -> Dual {
    let r = match e {
        Expr::Num(n) => Dual { v: *n, d: 0.0 },
        Expr::Var(j) => Dual {
            v: x[*j],
            d: if *j == i { 1.0 } else { 0.0 },
        },
        Expr::Neg(a) => {
            let a = dual(a, x, i, kink);
            Dual { v: -a.v, d: -a.d }
        }
        Expr::Bin(op, a, b) => binary(*op, dual(a, x, i, kink), dual(b, x, i, kink)),
        Expr::Call(func, args) => {
            let args: Vec<Dual> = args.iter().map(|a| dual(a, x, i, kink)).collect();
            call(*func, &args, kink)
        }
        Expr::If(c, a, b) => {
            let (l, r) = (dual(&c.lhs, x, i, kink), dual(&c.rhs, x, i, kink));
            if !(l.v.is_finite() && r.v.is_finite()) {
                return UNDEFINED;
            }
            // On the threshold, a move either way may flip the condition: the branch taken
            // here decides.
            *kink |= l.v == r.v && l.d != r.d;
            match compare(c.op, l.v, r.v) {
                true => dual(a, x, i, kink),
                false => dual(b, x, i, kink),
            }
        }
    };
    // As in evaluation, a node that is not finite makes everything above it undefined.
    match r.v.is_finite() {
        true => r,
        false => UNDEFINED,
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

/// `min` or `max` of `args`: the extreme argument's derivative, or, where several tie for
/// it, the mean of the one-sided derivatives (the least and the greatest of theirs).
fn extreme(args: &[Dual], max: bool, kink: &mut bool) -> Dual {
    if args.iter().any(|a| a.v.is_nan()) {
        return UNDEFINED;
    }
    let pick = |a: f64, b: f64| if max { a.max(b) } else { a.min(b) };
    let v = args
        .iter()
        .map(|a| a.v)
        .reduce(pick)
        .expect("one argument or more");
    let tied = args.iter().filter(|a| a.v == v).map(|a| a.d);
    let (lo, hi) = tied.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), d| {
        (lo.min(d), hi.max(d))
    });
    *kink |= lo != hi;
    Dual {
        v,
        d: (lo + hi) / 2.0,
    }
}

fn call(func: Func, args: &[Dual], kink: &mut bool) -> Dual {
    match func {
        Func::Min => extreme(args, false, kink),
        Func::Max => extreme(args, true, kink),
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
            // At 0 the one-sided derivatives are -|a'| and |a'|: their mean is 0.
            *kink |= a.v == 0.0 && a.d != 0.0;
            Dual {
                v: a.v.abs(),
                d: if a.v == 0.0 { 0.0 } else { a.v.signum() * a.d },
            }
        }
        Func::Clamp => {
            let (x, lo, hi) = (args[0], args[1], args[2]);
            if lo.v.is_nan() || hi.v.is_nan() || lo.v > hi.v {
                return UNDEFINED;
            }
            // clamp(x, lo, hi) = min(max(x, lo), hi), kinks included.
            let low = extreme(&[x, lo], true, kink);
            extreme(&[low, hi], false, kink)
        }
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
