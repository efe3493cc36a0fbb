//! Tests of the formula language: one `check` helper per concern, many small cases.

use proptest::prelude::*;

use super::*;

/// Parses `text` and compares the canonical printing of its AST with `expected`.
fn check(text: &str, expected: &str) {
    let parsed = parse(text).unwrap_or_else(|e| panic!("{text:?} failed to parse: {e:?}"));
    assert_eq!(parsed.expr.to_string(), expected, "printing of {text:?}");
}

/// Parses `text`, expecting a syntax error at `offset` whose message contains `message`.
fn check_error(text: &str, offset: usize, message: &str) {
    let err = parse(text)
        .err()
        .unwrap_or_else(|| panic!("{text:?} should not parse"));
    assert_eq!(err.offset, offset, "offset of {err:?}");
    assert!(
        err.message.contains(message),
        "{:?} does not contain {message:?}",
        err.message
    );
}

/// Evaluates `text` with variables `a = 2, b = 3, z = 0`.
fn check_eval(text: &str, expected: Result<f64, Undefined>) {
    let parsed = parse(text).unwrap();
    let got = parsed.expr.eval(&|v: &String| match v.as_str() {
        "a" => 2.0,
        "b" => 3.0,
        _ => 0.0,
    });
    assert_eq!(got, expected, "value of {text:?}");
}

/// IEEE gives `1 ^ NaN = 1` and `NaN ^ 0 = 1`; an undefined step must not vanish so, in the
/// lane evaluator as in the scalar one.
#[test]
fn an_undefined_operand_of_a_power_stays_undefined() {
    for text in ["1 ^ (y ^ 0.5)", "(y ^ 0.5) ^ 0", "min(y ^ 0.5, 1)"] {
        let expr = parse(text).unwrap().expr;
        assert!(expr.eval(&|_: &String| -1.0).is_err(), "{text}");
        let compiled = expr.map_vars(&mut |_: &String| Expr::Var(0usize));
        let lanes = compiled.eval_lanes(&[&[-1.0, 4.0]], 2);
        assert!(lanes[0].is_nan(), "{text}: {lanes:?}");
        assert!(lanes[1].is_finite(), "{text}: {lanes:?}");
    }
}

#[test]
fn precedence_and_associativity() {
    check("a + b * c", "a + b * c");
    check("(a + b) * c", "(a + b) * c");
    check("a - (b - c)", "a - (b - c)");
    check("(a - b) - c", "a - b - c");
    check("a / (b * c)", "a / (b * c)");
    check("a ^ b ^ c", "a^b^c");
    check("(a ^ b) ^ c", "(a^b)^c");
    check("-a ^ 2", "-a^2");
    check("(-a) ^ 2", "(-a)^2");
    check("a ^ -b", "a^-b");
    check("--a", "--a");
    check("-(a * b)", "-(a * b)");
    check("1.5e3 + .5", "1500 + 0.5");
}

#[test]
fn functions_and_if() {
    check("min(a, b, 3)", "min(a, b, 3)");
    check("clamp(a / b, 0, 1)", "clamp(a / b, 0, 1)");
    check("if(a >= b, a - b, 0)", "if(a >= b, a - b, 0)");
    check("avg(sum(a), abs(-b))", "avg(sum(a), abs(-b))");
}

#[test]
fn names_are_recorded_with_offsets() {
    let parsed = parse("items_created / activ_users").unwrap();
    let got: Vec<_> = parsed
        .names
        .iter()
        .map(|n| (n.name.as_str(), n.offset))
        .collect();
    assert_eq!(got, [("items_created", 0), ("activ_users", 16)]);
}

#[test]
fn syntax_errors_point_at_the_problem() {
    check_error("a +", 3, "formula ends");
    check_error("a + * b", 4, "expected a number");
    check_error("(a + b", 6, "ends where `)` was expected");
    check_error("a b", 2, "unexpected name `b`");
    check_error("a % b", 2, "unexpected character `%`");
    check_error("a = b", 2, "`=` is not an operator");
    check_error("mean(a)", 0, "unknown function `mean`");
    check_error("abs(a, b)", 0, "exactly one argument");
    check_error("clamp(a)", 0, "three arguments");
    check_error("max()", 0, "at least one argument");
    check_error("if(a, b, c)", 4, "expected a comparison");
    check_error("a < b", 2, "unexpected `<`");
    check_error("", 0, "formula ends");
}

#[test]
fn unknown_function_suggests_a_close_one() {
    let err = parse("claml(a, 0, 1)").err().unwrap();
    assert_eq!(err.help.as_deref(), Some("did you mean `clamp`?"));
}

#[test]
fn nesting_is_bounded() {
    let ok = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(parse(&ok).is_ok());
    for deep in [
        format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("{}a", "-".repeat(100_000)),
        "a^".repeat(100_000) + "a",
        "abs(".repeat(100_000) + "a" + &")".repeat(100_000),
    ] {
        let err = parse(&deep).expect_err("too deep");
        assert!(err.message.contains("nested more than"), "{}", err.message);
    }
}

#[test]
fn evaluation() {
    check_eval("a + b * 2", Ok(8.0));
    check_eval("a ^ b", Ok(8.0));
    check_eval("-a ^ 2", Ok(-4.0));
    check_eval("a / z", Err(Undefined::DivisionByZero));
    check_eval("z ^ -1", Err(Undefined::DivisionByZero));
    check_eval("(-a) ^ 0.5", Err(Undefined::Domain));
    check_eval("if(z > 0, a / z, 0)", Ok(0.0));
    check_eval("if(a != b, 1, 2)", Ok(1.0));
    check_eval(
        "min(a, b) + max(a, b) + avg(a, b) + sum(a, b)",
        Ok(2.0 + 3.0 + 2.5 + 5.0),
    );
    check_eval("clamp(b, 0, a)", Ok(2.0));
    check_eval("clamp(b, a, 0)", Err(Undefined::Domain));
    check_eval("10 ^ 400", Err(Undefined::Domain));
    // The seed's activity score: 8 actions x 1 + 3 x 5 + 1 x 8 = 31, on a 0-100 scale of 50.
    check_eval("(8 * 1 + 3 * 5 + 1 * 8) / 50 * 100", Ok(62.0));
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (0.0..1e6f64).prop_map(Expr::Num),
        (0u32..1000).prop_map(|n| Expr::Num(f64::from(n))),
        "[a-z_][a-z0-9_]{0,5}".prop_map(Expr::Var),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        let bin = prop_oneof![
            Just(BinOp::Add),
            Just(BinOp::Sub),
            Just(BinOp::Mul),
            Just(BinOp::Div),
            Just(BinOp::Pow)
        ];
        let func = prop_oneof![
            Just(Func::Min),
            Just(Func::Max),
            Just(Func::Sum),
            Just(Func::Avg)
        ];
        let cmp = prop_oneof![
            Just(CmpOp::Lt),
            Just(CmpOp::Le),
            Just(CmpOp::Gt),
            Just(CmpOp::Ge),
            Just(CmpOp::Eq),
            Just(CmpOp::Ne)
        ];
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
            (bin, inner.clone(), inner.clone()).prop_map(|(op, a, b)| Expr::Bin(
                op,
                Box::new(a),
                Box::new(b)
            )),
            (func, prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(f, args)| Expr::Call(f, args)),
            inner.clone().prop_map(|e| Expr::Call(Func::Abs, vec![e])),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(x, lo, hi)| Expr::Call(Func::Clamp, vec![x, lo, hi])),
            (cmp, inner.clone(), inner.clone(), inner.clone(), inner).prop_map(
                |(op, lhs, rhs, a, b)| Expr::If(
                    Box::new(Cond { op, lhs, rhs }),
                    Box::new(a),
                    Box::new(b)
                )
            ),
        ]
    })
}

proptest! {
    /// Evaluating many points at once agrees with evaluating each point alone, including
    /// where the formula is undefined.
    #[test]
    fn lanes_agree_with_scalar_evaluation(expr in arb_expr(), points in prop::collection::vec(prop::collection::vec(prop_oneof![4 => -5.0..5.0f64, 1 => Just(0.0), 1 => Just(1.0), 1 => Just(-1.0), 1 => Just(f64::NAN)], 3), 1..6)) {
        let names = ["a", "b", "c"];
        let compiled: Expr<usize> = expr.map_vars(&mut |v: &String| {
            let slot = names.iter().position(|n| n == v).unwrap_or(v.len() % 3);
            Expr::Var(slot)
        });
        let columns: Vec<Vec<f64>> = (0..3).map(|i| points.iter().map(|p| p[i]).collect()).collect();
        let inputs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let lanes = compiled.eval_lanes(&inputs, points.len());
        for (lane, p) in points.iter().enumerate() {
            match compiled.eval(&|&i| p[i]) {
                Ok(v) => prop_assert!(lanes[lane] == v, "lane {}: {} != {}", lane, lanes[lane], v),
                Err(_) => prop_assert!(!lanes[lane].is_finite(), "lane {} should be undefined", lane),
            }
        }
    }

    #[test]
    fn printing_then_parsing_gives_the_same_ast(expr in arb_expr()) {
        let printed = expr.to_string();
        let reparsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e:?}")))?;
        prop_assert_eq!(reparsed.expr, expr, "printed as {:?}", printed);
    }

    #[test]
    fn parser_never_panics(text in "\\PC{0,80}") {
        let _ = parse(&text);
    }

    #[test]
    fn parser_never_panics_on_formula_like_text(text in "[a-c0-9 .+*/^(),<>=!-]{0,60}|(if|min|clamp)\\([a-c0-9 ,<>=+-]{0,30}\\)?") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.offset <= text.chars().count());
        }
    }
}
