//! A formula compiled to postfix operations, evaluated over many points ("lanes") at once.
//!
//! Evaluating every period of a metric, or every coalition of a Shapley enumeration, is the
//! same formula at many points. A postfix program walks its operations once, each over all
//! lanes in a tight loop, on a stack kept in one reusable buffer: no allocation per node.

use super::{compare, BinOp, CmpOp, Expr, Func};

#[derive(Clone, Debug)]
enum Op {
    Num(f64),
    Var(usize),
    Neg,
    Bin(BinOp),
    Call(Func, usize),
    If(CmpOp),
}

/// A compiled formula. Semantics match [`Expr::eval`] lane by lane: a lane is NaN wherever
/// scalar evaluation would fail, including where an intermediate value is not finite.
#[derive(Clone, Debug)]
pub struct Program {
    ops: Vec<Op>,
    depth: usize,
}

impl Program {
    /// Compiles `expr`.
    pub fn new(expr: &Expr<usize>) -> Program {
        let mut ops = Vec::new();
        compile(expr, &mut ops);
        let (mut depth, mut max) = (0usize, 0usize);
        for op in &ops {
            match op {
                Op::Num(_) | Op::Var(_) => depth += 1,
                Op::Neg => {}
                Op::Bin(_) => depth -= 1,
                Op::Call(_, n) => depth -= n - 1,
                Op::If(_) => depth -= 3,
            }
            max = max.max(depth);
        }
        Program { ops, depth: max }
    }

    /// Evaluates the program at `lanes` points. `load(i, out)` fills `out` with input `i` at
    /// every point. `stack` is scratch space, reused across calls; the result borrows it.
    pub fn eval<'s>(
        &self,
        lanes: usize,
        load: &mut dyn FnMut(usize, &mut [f64]),
        stack: &'s mut Vec<f64>,
    ) -> &'s [f64] {
        stack.clear();
        stack.resize(self.depth.max(1) * lanes, 0.0);
        let mut top = 0usize; // slots in use
        for op in &self.ops {
            match op {
                Op::Num(n) => {
                    slot(stack, lanes, top).fill(*n);
                    top += 1;
                }
                Op::Var(i) => {
                    load(*i, slot(stack, lanes, top));
                    top += 1;
                }
                Op::Neg => slot(stack, lanes, top - 1)
                    .iter_mut()
                    .for_each(|v| *v = -*v),
                Op::Bin(op) => {
                    top -= 1;
                    let (a, b) = pair(stack, lanes, top - 1);
                    // One loop per operator, so that each compiles to straight vector code.
                    match op {
                        BinOp::Add => lanewise(a, b, |x, y| x + y),
                        BinOp::Sub => lanewise(a, b, |x, y| x - y),
                        BinOp::Mul => lanewise(a, b, |x, y| x * y),
                        BinOp::Div => {
                            lanewise(a, b, |x, y| if y == 0.0 { f64::NAN } else { x / y })
                        }
                        // `powf(1, NaN)` and `powf(NaN, 0)` are 1, but an undefined
                        // operand must leave the result undefined.
                        BinOp::Pow => lanewise(a, b, |x, y| {
                            if (x == 0.0 && y < 0.0) || x.is_nan() || y.is_nan() {
                                f64::NAN
                            } else {
                                x.powf(y)
                            }
                        }),
                    }
                }
                Op::Call(func, n) => {
                    top -= n - 1;
                    call(
                        *func,
                        *n,
                        &mut stack[(top - 1) * lanes..(top - 1 + n) * lanes],
                        lanes,
                    );
                }
                Op::If(cmp) => {
                    top -= 3;
                    let base = (top - 1) * lanes;
                    for l in 0..lanes {
                        let at = |k: usize| stack[base + k * lanes + l];
                        let (lhs, rhs) = (at(0), at(1));
                        stack[base + l] =
                            match (lhs.is_finite() && rhs.is_finite(), compare(*cmp, lhs, rhs)) {
                                (false, _) => f64::NAN,
                                (true, true) => at(2),
                                (true, false) => at(3),
                            };
                    }
                }
            }
            // Like `eval`, which fails at the first non-finite node: an overflow inside (say,
            // in a clamped argument) makes the whole point undefined.
            for v in slot(stack, lanes, top - 1) {
                *v = if v.is_finite() { *v } else { f64::NAN };
            }
        }
        &stack[..lanes]
    }
}

#[inline(always)]
fn lanewise(a: &mut [f64], b: &[f64], f: impl Fn(f64, f64) -> f64) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = f(*x, *y);
    }
}

fn slot(stack: &mut [f64], lanes: usize, k: usize) -> &mut [f64] {
    &mut stack[k * lanes..(k + 1) * lanes]
}

fn pair(stack: &mut [f64], lanes: usize, k: usize) -> (&mut [f64], &[f64]) {
    let (a, b) = stack[k * lanes..(k + 2) * lanes].split_at_mut(lanes);
    (a, b)
}

/// Applies `func` to `n` argument slots laid out one after the other, into the first.
fn call(func: Func, n: usize, args: &mut [f64], lanes: usize) {
    for l in 0..lanes {
        let at = |k: usize| args[k * lanes + l];
        let all = (0..n).map(at);
        args[l] = match func {
            // `f64::min` skips NaN; an undefined argument must stay undefined.
            Func::Min => all.fold(f64::INFINITY, |a, b| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.min(b)
                }
            }),
            Func::Max => all.fold(f64::NEG_INFINITY, |a, b| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            }),
            Func::Abs => at(0).abs(),
            Func::Sum => all.sum(),
            Func::Avg => all.sum::<f64>() / n as f64,
            // `f64::clamp` panics on NaN bounds or `lo > hi`.
            Func::Clamp if at(1).is_nan() || at(2).is_nan() || at(1) > at(2) => f64::NAN,
            Func::Clamp => at(0).clamp(at(1), at(2)),
        };
    }
}

fn compile(e: &Expr<usize>, ops: &mut Vec<Op>) {
    match e {
        Expr::Num(n) => ops.push(Op::Num(*n)),
        Expr::Var(i) => ops.push(Op::Var(*i)),
        Expr::Neg(a) => {
            compile(a, ops);
            ops.push(Op::Neg);
        }
        Expr::Bin(op, a, b) => {
            compile(a, ops);
            compile(b, ops);
            ops.push(Op::Bin(*op));
        }
        Expr::Call(func, args) => {
            args.iter().for_each(|a| compile(a, ops));
            ops.push(Op::Call(*func, args.len()));
        }
        Expr::If(c, a, b) => {
            compile(&c.lhs, ops);
            compile(&c.rhs, ops);
            compile(a, ops);
            compile(b, ops);
            ops.push(Op::If(c.op));
        }
    }
}
