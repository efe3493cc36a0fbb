//! The formula language: lexing, parsing to an AST, printing, and evaluation.
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! expr    := product (('+' | '-') product)*
//! product := unary (('*' | '/') unary)*
//! unary   := '-' unary | power
//! power   := atom ('^' unary)?            right-associative: a^b^c = a^(b^c), -a^2 = -(a^2)
//! atom    := number | name | name '(' args ')' | 'if' '(' expr cmp expr ',' expr ',' expr ')'
//!          | '(' expr ')'
//! ```
//!
//! Parsing never panics and never recurses deeper than [`MAX_DEPTH`]; a formula is parsed once,
//! and evaluation walks the AST without re-parsing.

use std::fmt;

/// Deepest nesting of parentheses, calls, unary minus and powers accepted in a formula.
pub const MAX_DEPTH: usize = 64;

/// A binary arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
}

/// A comparison, allowed only as the condition of `if`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// Smallest argument.
    Min,
    /// Largest argument.
    Max,
    /// Absolute value of its one argument.
    Abs,
    /// Sum of the arguments.
    Sum,
    /// Mean of the arguments.
    Avg,
    /// `clamp(x, lo, hi)`.
    Clamp,
}

const FUNCS: [(&str, Func); 6] = [
    ("min", Func::Min),
    ("max", Func::Max),
    ("abs", Func::Abs),
    ("sum", Func::Sum),
    ("avg", Func::Avg),
    ("clamp", Func::Clamp),
];

impl Func {
    /// The name a formula calls it by.
    pub fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    fn arity_ok(self, n: usize) -> Result<(), &'static str> {
        match self {
            Func::Abs if n != 1 => Err("exactly one argument"),
            Func::Clamp if n != 3 => Err("three arguments: clamp(x, lo, hi)"),
            _ if n == 0 => Err("at least one argument"),
            _ => Ok(()),
        }
    }
}

/// A formula's syntax tree. `N` is how a variable is named: a `String` as parsed, or an input
/// slot once the engine has resolved names against the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr<N = String> {
    /// A number literal (never negative: `-1` is `Neg(Num(1))`).
    Num(f64),
    /// A metric or param.
    Var(N),
    /// Unary minus.
    Neg(Box<Expr<N>>),
    /// A binary operation.
    Bin(BinOp, Box<Expr<N>>, Box<Expr<N>>),
    /// A function call.
    Call(Func, Vec<Expr<N>>),
    /// `if(lhs op rhs, then, otherwise)`.
    If(Box<Cond<N>>, Box<Expr<N>>, Box<Expr<N>>),
}

/// The condition of an `if`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond<N = String> {
    /// The comparison.
    pub op: CmpOp,
    /// Left side.
    pub lhs: Expr<N>,
    /// Right side.
    pub rhs: Expr<N>,
}

/// Where a variable name occurs in the formula text, for diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRef {
    /// The name as written.
    pub name: String,
    /// Offset in characters from the start of the formula.
    pub offset: usize,
}

/// A parsed formula: its AST and where each variable occurs.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The syntax tree.
    pub expr: Expr,
    /// Every variable occurrence, in order of appearance.
    pub names: Vec<NameRef>,
}

/// A syntax error in a formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Offset in characters of the problem from the start of the formula.
    pub offset: usize,
    /// Width in characters of the offending text.
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it, if there is something specific to say.
    pub help: Option<String>,
}

/// Why a formula has no value for some inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undefined {
    /// A division by zero.
    DivisionByZero,
    /// A power or function outside its domain (such as a negative number to a fractional
    /// power, or `clamp` with `lo > hi`), or a result too large to represent.
    Domain,
}

impl fmt::Display for Undefined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Undefined::DivisionByZero => "division by zero",
            Undefined::Domain => "result is not a finite real number",
        })
    }
}

/// Parses a formula.
pub fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    let mut p = Parser::new(text, IF_HELP)?;
    let expr = p.expr()?;
    p.finish(expr)
}

/// What the first argument of `if` is, for errors.
const IF_HELP: &str = "the first argument of `if` is a comparison, e.g. `if(a > 0, b / a, 0)`";

/// Parses a condition, `lhs op rhs` with a comparison of the formula language, as the formula
/// that is 1 where it holds and 0 where it does not (NaN where a side has no value).
pub fn parse_condition(text: &str) -> Result<Parsed, SyntaxError> {
    let mut p = Parser::new(
        text,
        "a condition compares two formulas, e.g. `attempts >= 10`",
    )?;
    let lhs = p.expr()?;
    let op = p.comparison()?;
    let rhs = p.expr()?;
    let expr = Expr::If(
        Box::new(Cond { op, lhs, rhs }),
        Box::new(Expr::Num(1.0)),
        Box::new(Expr::Num(0.0)),
    );
    p.finish(expr)
}

impl Parser {
    fn new(text: &str, comparing: &'static str) -> Result<Parser, SyntaxError> {
        Ok(Parser {
            tokens: lex(text)?,
            pos: 0,
            depth: 0,
            names: Vec::new(),
            end: text.chars().count(),
            comparing,
        })
    }

    /// The parse of the whole text as `expr`, or what follows it.
    fn finish(self, expr: Expr) -> Result<Parsed, SyntaxError> {
        if let Some(t) = self.peek() {
            return Err(self.error_at(
                t,
                format!("unexpected {} after the end of the formula", t.tok),
            ));
        }
        Ok(Parsed {
            expr,
            names: self.names,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "number `{n}`"),
            Tok::Ident(s) => write!(f, "name `{s}`"),
            Tok::Op(o) => write!(f, "`{o}`"),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    offset: usize,
    len: usize,
}

const OPS: [&str; 15] = [
    "<=", ">=", "==", "!=", "+", "-", "*", "/", "^", "(", ")", ",", "<", ">", "=",
];

fn lex(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i = scan_number(&chars, i);
            let s: String = chars[start..i].iter().collect();
            match s.parse::<f64>() {
                Ok(n) if n.is_finite() => Tok::Num(n),
                _ => {
                    return Err(syntax(
                        start,
                        i - start,
                        format!("`{s}` is not a number"),
                        None,
                    ))
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else if let Some(op) = OPS.iter().find(|op| {
            op.chars()
                .enumerate()
                .all(|(k, oc)| chars.get(i + k) == Some(&oc))
        }) {
            i += op.len();
            if *op == "=" {
                return Err(syntax(
                    start,
                    1,
                    "`=` is not an operator",
                    Some("compare with `==` inside `if(...)`"),
                ));
            }
            Tok::Op(op)
        } else {
            let help = match c {
                '%' => Some("percent is explicit: write `a / b * 100`"),
                '&' | '|' | '!' => {
                    Some("conditions are single comparisons inside `if(cond, a, b)`")
                }
                _ => None,
            };
            return Err(syntax(
                start,
                1,
                format!("unexpected character `{c}` in formula"),
                help,
            ));
        };
        tokens.push(Token {
            tok,
            offset: start,
            len: i - start,
        });
    }
    Ok(tokens)
}

fn scan_number(chars: &[char], mut i: usize) -> usize {
    let digits = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if chars.get(i) == Some(&'.') {
        i += 1;
        digits(&mut i);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(char::is_ascii_digit) {
            i = j;
            digits(&mut i);
        }
    }
    i
}

fn syntax(
    offset: usize,
    len: usize,
    message: impl Into<String>,
    help: Option<&str>,
) -> SyntaxError {
    SyntaxError {
        offset,
        len: len.max(1),
        message: message.into(),
        help: help.map(str::to_string),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    names: Vec<NameRef>,
    end: usize,
    /// What a comparison is here, for the help of an error where one is expected.
    comparing: &'static str,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.peek() {
            Some(Token {
                tok: Tok::Op(o), ..
            }) => Some(o),
            _ => None,
        }
    }

    fn error_at(&self, t: &Token, message: String) -> SyntaxError {
        syntax(t.offset, t.len, message, None)
    }

    fn eof(&self, expected: &str) -> SyntaxError {
        syntax(
            self.end,
            1,
            format!("the formula ends where {expected} was expected"),
            None,
        )
    }

    fn expect(&mut self, op: &'static str) -> Result<(), SyntaxError> {
        match self.peek() {
            Some(Token {
                tok: Tok::Op(o), ..
            }) if *o == op => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(self.error_at(t, format!("expected `{op}`, found {}", t.tok))),
            None => Err(self.eof(&format!("`{op}`"))),
        }
    }

    /// Guards recursion: every rule that can nest calls this on the way in.
    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let offset = self.peek().map_or(self.end, |t| t.offset);
            return Err(syntax(
                offset,
                1,
                format!("formula nested more than {MAX_DEPTH} levels deep"),
                Some("split it into intermediate metrics"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.product()?;
        while let Some(op @ ("+" | "-")) = self.peek_op() {
            self.pos += 1;
            let rhs = self.product()?;
            let op = if op == "+" { BinOp::Add } else { BinOp::Sub };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn product(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.unary()?;
        while let Some(op @ ("*" | "/")) = self.peek_op() {
            self.pos += 1;
            let rhs = self.unary()?;
            let op = if op == "*" { BinOp::Mul } else { BinOp::Div };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.peek_op() == Some("-") {
            self.pos += 1;
            let operand = self.nested(Self::unary)?;
            return Ok(Expr::Neg(Box::new(operand)));
        }
        let base = self.atom()?;
        if self.peek_op() != Some("^") {
            return Ok(base);
        }
        self.pos += 1;
        let exponent = self.nested(Self::unary)?;
        Ok(Expr::Bin(BinOp::Pow, Box::new(base), Box::new(exponent)))
    }

    /// Runs `rule` one nesting level deeper, failing cleanly past [`MAX_DEPTH`] levels.
    fn nested<T>(
        &mut self,
        rule: impl FnOnce(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, SyntaxError> {
        self.enter()?;
        let result = rule(self);
        self.depth -= 1;
        result
    }

    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.eof("a number, a name or `(`"));
        };
        self.pos += 1;
        match t.tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Op("(") => {
                let e = self.nested(Self::expr)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Ident(ref name) if self.peek_op() == Some("(") => {
                self.nested(|p| p.call(name.clone(), &t))
            }
            Tok::Ident(name) => {
                self.names.push(NameRef {
                    name: name.clone(),
                    offset: t.offset,
                });
                Ok(Expr::Var(name))
            }
            Tok::Op(_) => Err(self.error_at(
                &t,
                format!("expected a number, a name or `(`, found {}", t.tok),
            )),
        }
    }

    fn call(&mut self, name: String, t: &Token) -> Result<Expr, SyntaxError> {
        self.pos += 1; // the `(`
        if name == "if" {
            let lhs = self.expr()?;
            let op = self.comparison()?;
            let rhs = self.expr()?;
            self.expect(",")?;
            let then = self.expr()?;
            self.expect(",")?;
            let otherwise = self.expr()?;
            self.expect(")")?;
            return Ok(Expr::If(
                Box::new(Cond { op, lhs, rhs }),
                Box::new(then),
                Box::new(otherwise),
            ));
        }
        let Some(func) = FUNCS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f) else {
            let known: Vec<&str> = FUNCS.iter().map(|(n, _)| *n).chain(["if"]).collect();
            let help = crate::suggest::did_you_mean(&name, known.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("the functions are {}", known.join(", ")));
            return Err(syntax(
                t.offset,
                t.len,
                format!("unknown function `{name}`"),
                Some(&help),
            ));
        };
        let mut args = Vec::new();
        if self.peek_op() != Some(")") {
            loop {
                args.push(self.expr()?);
                if self.peek_op() == Some(",") {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        func.arity_ok(args.len()).map_err(|want| {
            syntax(
                t.offset,
                t.len,
                format!("`{name}` takes {want}, found {}", args.len()),
                None,
            )
        })?;
        Ok(Expr::Call(func, args))
    }

    fn comparison(&mut self) -> Result<CmpOp, SyntaxError> {
        let op = match self.peek_op() {
            Some("<") => CmpOp::Lt,
            Some("<=") => CmpOp::Le,
            Some(">") => CmpOp::Gt,
            Some(">=") => CmpOp::Ge,
            Some("==") => CmpOp::Eq,
            Some("!=") => CmpOp::Ne,
            _ => {
                return Err(match self.peek() {
                    Some(t) => syntax(
                        t.offset,
                        t.len,
                        format!("expected a comparison (< <= > >= == !=), found {}", t.tok),
                        Some(self.comparing),
                    ),
                    None => self.eof("a comparison"),
                })
            }
        };
        self.pos += 1;
        Ok(op)
    }
}

impl<N> Expr<N> {
    /// Replaces every variable by `f(variable)`, keeping the structure.
    pub fn map_vars<M>(&self, f: &mut impl FnMut(&N) -> Expr<M>) -> Expr<M> {
        match self {
            Expr::Num(n) => Expr::Num(*n),
            Expr::Var(v) => f(v),
            Expr::Neg(e) => Expr::Neg(Box::new(e.map_vars(f))),
            Expr::Bin(op, a, b) => Expr::Bin(*op, Box::new(a.map_vars(f)), Box::new(b.map_vars(f))),
            Expr::Call(func, args) => {
                Expr::Call(*func, args.iter().map(|a| a.map_vars(f)).collect())
            }
            Expr::If(c, a, b) => Expr::If(
                Box::new(Cond {
                    op: c.op,
                    lhs: c.lhs.map_vars(f),
                    rhs: c.rhs.map_vars(f),
                }),
                Box::new(a.map_vars(f)),
                Box::new(b.map_vars(f)),
            ),
        }
    }

    /// Evaluates the expression, looking variables up with `var`. Only the taken branch of an
    /// `if` is evaluated, so `if(x > 0, y / x, 0)` is defined at `x = 0`.
    pub fn eval(&self, var: &impl Fn(&N) -> f64) -> Result<f64, Undefined> {
        let v = match self {
            Expr::Num(n) => *n,
            Expr::Var(v) => var(v),
            Expr::Neg(e) => -e.eval(var)?,
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(var)?, b.eval(var)?);
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div if b == 0.0 => return Err(Undefined::DivisionByZero),
                    BinOp::Div => a / b,
                    BinOp::Pow if a == 0.0 && b < 0.0 => return Err(Undefined::DivisionByZero),
                    BinOp::Pow => a.powf(b),
                }
            }
            Expr::Call(func, args) => call(*func, args, var)?,
            Expr::If(c, a, b) => {
                let (l, r) = (c.lhs.eval(var)?, c.rhs.eval(var)?);
                if compare(c.op, l, r) {
                    a.eval(var)?
                } else {
                    b.eval(var)?
                }
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Undefined::Domain)
        }
    }

    /// How tightly the expression binds, for printing: 1 for sums up to 5 for atoms.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Bin(BinOp::Add | BinOp::Sub, ..) => 1,
            Expr::Bin(BinOp::Mul | BinOp::Div, ..) => 2,
            Expr::Neg(_) => 3,
            Expr::Bin(BinOp::Pow, ..) => 4,
            _ => 5,
        }
    }
}

fn call<N>(func: Func, args: &[Expr<N>], var: &impl Fn(&N) -> f64) -> Result<f64, Undefined> {
    let vals = args
        .iter()
        .map(|a| a.eval(var))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match func {
        Func::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
        Func::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Func::Abs => vals[0].abs(),
        Func::Sum => vals.iter().sum(),
        Func::Avg => vals.iter().sum::<f64>() / vals.len() as f64,
        Func::Clamp if vals[1] > vals[2] => return Err(Undefined::Domain),
        Func::Clamp => vals[0].clamp(vals[1], vals[2]),
    })
}

impl Expr<usize> {
    /// Evaluates the expression at many points at once: `inputs[i][lane]` is input `i` at
    /// point `lane`, and every input has `lanes` points. A lane is NaN in the result where the
    /// formula is undefined there (re-evaluate that point with [`Expr::eval`] for the reason).
    /// Compiles a [`Program`] each call; keep the program to evaluate repeatedly.
    pub fn eval_lanes(&self, inputs: &[&[f64]], lanes: usize) -> Vec<f64> {
        let mut stack = Vec::new();
        Program::new(self)
            .eval(
                lanes,
                &mut |i, out| out.copy_from_slice(&inputs[i][..lanes]),
                &mut stack,
            )
            .to_vec()
    }
}

/// Whether `l OP r` holds, as the condition of an `if` decides it.
pub fn compare(op: CmpOp, l: f64, r: f64) -> bool {
    match op {
        CmpOp::Lt => l < r,
        CmpOp::Le => l <= r,
        CmpOp::Gt => l > r,
        CmpOp::Ge => l >= r,
        CmpOp::Eq => l == r,
        CmpOp::Ne => l != r,
    }
}

/// Prints the expression with the fewest parentheses that parse back to the same tree.
impl<N: fmt::Display> fmt::Display for Expr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `at_least` is the loosest precedence the context accepts without parentheses.
        fn side<N: fmt::Display>(
            f: &mut fmt::Formatter<'_>,
            e: &Expr<N>,
            at_least: u8,
        ) -> fmt::Result {
            if e.precedence() < at_least {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match self {
            Expr::Num(n) => write!(f, "{n}"),
            Expr::Var(v) => write!(f, "{v}"),
            Expr::Neg(e) => {
                f.write_str("-")?;
                side(f, e, 3)
            }
            Expr::Bin(op, a, b) => {
                let (sym, left, right) = match op {
                    BinOp::Add => (" + ", 1, 2),
                    BinOp::Sub => (" - ", 1, 2),
                    BinOp::Mul => (" * ", 2, 3),
                    BinOp::Div => (" / ", 2, 3),
                    BinOp::Pow => ("^", 5, 3),
                };
                side(f, a, left)?;
                f.write_str(sym)?;
                side(f, b, right)
            }
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::If(c, a, b) => {
                let op = match c.op {
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                };
                write!(f, "if({} {op} {}, {a}, {b})", c.lhs, c.rhs)
            }
        }
    }
}

mod program;

pub use program::Program;

#[cfg(test)]
mod tests;
