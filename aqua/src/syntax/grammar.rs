//! The grammar of one logical line, with `chumsky`.
//!
//! The layout pass has already cut the file into lines and nested them; each parser here
//! reads the tokens of one line. Lines that open a block end with `:` and get their body
//! from the line's children in [`super::parser`].

use chumsky::input::ValueInput;
use chumsky::prelude::*;

use super::ast::*;
use super::lexer::Token;
use super::Span;

pub(super) type Extra<'t, 's> = extra::Err<Rich<'t, Token<'s>, Span, Problem>>;

type Boxed<'t, 's, I, O> = chumsky::Boxed<'t, 't, I, O, Extra<'t, 's>>;

/// A grammar error of our own (the others are chumsky's "expected ..., found ..."): what is
/// wrong, and how to fix it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Problem {
    pub message: String,
    /// What the marked text is, when more than the message says.
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Problem {
    fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            ..Problem::default()
        }
    }

    fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem::new(message)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The parsers of a file's lines, built once per file.
pub(super) trait TokenInput<'t, 's: 't>:
    ValueInput<'t, Token = Token<'s>, Span = Span>
{
}
impl<'t, 's: 't, I: ValueInput<'t, Token = Token<'s>, Span = Span>> TokenInput<'t, 's> for I {}

/// A lower- or upper-case identifier.
fn ident<'t, 's: 't, I: TokenInput<'t, 's>>() -> impl Parser<'t, I, Ident, Extra<'t, 's>> + Clone {
    select! { Token::Ident(text) = e => Ident { text: text.to_string(), span: e.span() } }
        .labelled("a name")
}

/// A variable name: an identifier, or a keyword other than `true` and `false` (Aqua reserves
/// its keywords only where they start a construct, so `data` or `on` are valid names).
fn var_name<'t, 's: 't, I: TokenInput<'t, 's>>() -> impl Parser<'t, I, Ident, Extra<'t, 's>> + Clone
{
    any_name()
        .filter(|name: &Ident| name.text != "true" && name.text != "false")
        .labelled("a name")
}

/// An identifier or a keyword, where any name is allowed (fields, arguments, methods).
fn any_name<'t, 's: 't, I: TokenInput<'t, 's>>() -> impl Parser<'t, I, Ident, Extra<'t, 's>> + Clone
{
    any()
        .filter(|t: &Token<'s>| t.name_text().is_some())
        .map_with(|t: Token<'s>, e| Ident {
            text: t.name_text().unwrap_or_default().to_string(),
            span: e.span(),
        })
        .labelled("a name")
}

/// `Name`, `Mod.Name`, ...
fn path<'t, 's: 't, I: TokenInput<'t, 's>>() -> impl Parser<'t, I, Path, Extra<'t, 's>> + Clone {
    ident()
        .separated_by(just(Token::Dot))
        .at_least(1)
        .collect::<Vec<_>>()
        .map(|parts| Path { parts })
}

fn string<'t, 's: 't, I: TokenInput<'t, 's>>() -> impl Parser<'t, I, StrLit, Extra<'t, 's>> + Clone
{
    select! {
        Token::Str(quoted) = e => StrLit { value: string_value(quoted), span: e.span() },
    }
    .labelled("a string")
}

/// The text of a string token without its quotes.
fn string_value(token: &str) -> String {
    token[1..token.len() - 1].to_string()
}

/// `keyword` then `item`. When nothing but the line's `:` (or its end) follows the keyword,
/// the error is `missing`, at the keyword: it says what the keyword needs, where an error at
/// the `:` could only say that the `:` came early. `fallback` stands in for the item then
/// (the line is dropped with its error).
fn keyword_then<'t, 's: 't, I: TokenInput<'t, 's> + 't, O: Clone + 't>(
    keyword: Token<'s>,
    item: impl Parser<'t, I, O, Extra<'t, 's>> + Clone + 't,
    missing: Problem,
    fallback: fn(Span) -> O,
) -> Boxed<'t, 's, I, O> {
    just(keyword)
        .map_with(|_, e| e.span())
        .then(choice((
            item.map(Some),
            just(Token::Colon).ignored().or(end()).rewind().to(None),
        )))
        .validate(move |(span, item), _, emitter| match item {
            Some(item) => item,
            None => {
                emitter.emit(Rich::custom(span, missing.clone()));
                fallback(span)
            }
        })
        // Boxed: chumsky inlines its combinators, and a line's parser in one stack frame
        // would outgrow the stack kept free for each level of nested blocks.
        .boxed()
}

/// A value that failed to parse, standing in where its line is dropped with the error.
fn error_expr(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Error,
        span,
    }
}

fn is_upper(ident: &Ident) -> bool {
    ident.text.starts_with(|c: char| c.is_ascii_uppercase())
}

/// One argument of a call or constructor: `value`, or `name = value`.
#[derive(Clone)]
struct Arg {
    name: Option<Ident>,
    value: Expr,
}

/// An operation after a value, before calls and constructors are told apart: `.name(args)`
/// may be a method call or, on a module path, a constructor.
enum Postfix {
    Call {
        name: Ident,
        abilities: Option<Vec<Expr>>,
        args: (Vec<Arg>, Span),
    },
    Op(PropertyOp),
}

/// Expressions, with Aqua's precedence: `||` < `&&` < `==` `!=` < `<` `<=` `>` `>=`
/// (non-associative) < `+` `-` < `*` `/` `%` < `**` (right-associative) < prefix `!` <
/// property chains.
pub(super) fn expr<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, Expr, Extra<'t, 's>> + Clone {
    recursive(|expr| {
        let arg = any_name()
            .then_ignore(just(Token::Assign))
            .then(expr.clone())
            .map(|(name, value)| Arg {
                name: Some(name),
                value,
            })
            .or(expr.clone().map(|value| Arg { name: None, value }));
        let args = arg
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LParen), just(Token::RParen))
            .map_with(|args, e| (args, e.span()))
            .labelled("arguments in parentheses")
            .boxed();
        let abilities = expr
            .clone()
            .separated_by(just(Token::Comma))
            .at_least(1)
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LBrace), just(Token::RBrace));

        let number = select! {
            Token::Int(digits) => Literal::Int(digits.to_string()),
            Token::Float(digits) => Literal::Float(digits.to_string()),
        };
        let literal = choice((
            number,
            just(Token::Minus).ignore_then(number).map(|n| match n {
                Literal::Int(d) => Literal::Int(format!("-{d}")),
                Literal::Float(d) => Literal::Float(format!("-{d}")),
                other => other,
            }),
            select! {
                Token::Str(quoted) => Literal::Str(string_value(quoted)),
                Token::True => Literal::Bool(true),
                Token::False => Literal::Bool(false),
                Token::InitPeerId => Literal::InitPeerId,
            },
        ))
        .map(ExprKind::Literal);

        let collection = choice((
            just(Token::LBracket).to(CollectionKind::Array),
            just(Token::Question)
                .then(just(Token::LBracket))
                .to(CollectionKind::Option),
            just(Token::Star)
                .then(just(Token::LBracket))
                .to(CollectionKind::Stream),
        ))
        .then(
            expr.clone()
                .separated_by(just(Token::Comma))
                .allow_trailing()
                .collect::<Vec<_>>(),
        )
        .then_ignore(just(Token::RBracket))
        .map(|(kind, items)| ExprKind::Collection { kind, items });

        // `f(x)`, `f{Ab}(x)`, and `Name(f = x)` (a constructor: capitalized).
        let call = var_name()
            .then(abilities.clone().or_not())
            .then(args.clone())
            .validate(|((callee, abilities), (args, args_span)), _, emitter| {
                let mut problems = Problems::new();
                let kind = if is_upper(&callee) {
                    let ty = Path {
                        parts: vec![callee],
                    };
                    ExprKind::Construct {
                        ty,
                        fields: named_args(args, &mut problems),
                        args_span,
                    }
                } else {
                    ExprKind::Call {
                        callee,
                        abilities: abilities.unwrap_or_default(),
                        args: positional_args(args, &mut problems),
                        args_span,
                    }
                };
                for (span, message) in problems {
                    emitter.emit(Rich::custom(span, message));
                }
                kind
            });

        let atom = choice((
            literal,
            collection,
            call,
            var_name().map(ExprKind::Name),
            expr.clone()
                .delimited_by(just(Token::LParen), just(Token::RParen))
                .map(|inner| ExprKind::Paren(Box::new(inner))),
        ))
        .map_with(|kind, e| Expr {
            kind,
            span: e.span(),
        })
        .labelled("a value")
        .boxed();

        let property = choice((
            just(Token::Dot)
                .ignore_then(any_name())
                .then(abilities.or_not())
                .then(args.clone())
                .map(|((name, abilities), args)| Postfix::Call {
                    name,
                    abilities,
                    args,
                }),
            just(Token::Dot)
                .ignore_then(any_name())
                .map(|name| Postfix::Op(PropertyOp::Field(name))),
            expr.clone()
                .delimited_by(just(Token::LBracket), just(Token::RBracket))
                .map(|index| Postfix::Op(PropertyOp::Index(Box::new(index)))),
            just(Token::Bang)
                .ignore_then(select! { Token::Int(n) = e => (n.to_string(), e.span()) }.or_not())
                .map(|n| Postfix::Op(PropertyOp::Bang(n))),
        ))
        .map_with(|postfix, e| (postfix, e.span()));

        let chain = atom
            .foldl_with(
                property.repeated(),
                |base: Expr, (postfix, span): (Postfix, Span), e| {
                    let whole = Span::from(base.span.start..span.end);
                    let kind = match postfix {
                        Postfix::Op(op) => ExprKind::Property {
                            base: Box::new(base),
                            op,
                        },
                        Postfix::Call {
                            name,
                            abilities,
                            args,
                        } => {
                            let mut problems = Problems::new();
                            let kind =
                                method_or_construct(base, name, abilities, args, &mut problems);
                            for (span, message) in problems {
                                e.emit(Rich::custom(span, message));
                            }
                            kind
                        }
                    };
                    Expr { kind, span: whole }
                },
            )
            .boxed();

        let unary = recursive(|unary| {
            just(Token::Bang)
                .ignore_then(unary)
                .map(|inner: Expr| ExprKind::Not(Box::new(inner)))
                .map_with(|kind, e| Expr {
                    kind,
                    span: e.span(),
                })
                .or(chain)
        });

        let op = |token: Token<'s>, op: InfixOp| just(token).map_with(move |_, e| (op, e.span()));
        // The right operand of an operator; where another operator stands instead, the error
        // is at that operator (two in a row), not at whatever follows it.
        let operand = |operand: Boxed<'t, 's, I, Expr>| {
            operand.or(any()
                .filter(Token::is_infix_operator)
                .map_with(|token, e| (token, e.span()))
                .rewind()
                .validate(|(token, span): (Token<'s>, Span), _, emitter| {
                    emitter.emit(Rich::custom(
                        span,
                        Problem::new(format!(
                            "two operators in a row: a value is missing before {token}"
                        ))
                        .label("an operator takes a value on each side")
                        .help("remove one of the operators, or write the value between them"),
                    ));
                    error_expr(Span::from(span.start..span.start))
                }))
        };
        let infix = |lhs: Expr, ((op, op_span), rhs): ((InfixOp, Span), Expr)| Expr {
            span: Span::from(lhs.span.start..rhs.span.end),
            kind: ExprKind::Infix {
                op,
                op_span,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        };

        let pow = unary
            .clone()
            .then(
                op(Token::Pow, InfixOp::Pow)
                    .then(operand(unary.boxed()))
                    .repeated()
                    .collect::<Vec<_>>(),
            )
            .map(move |(first, rest)| {
                // Right-associative: fold from the right.
                let mut operands = vec![first];
                let mut ops = Vec::new();
                for (op, operand) in rest {
                    ops.push(op);
                    operands.push(operand);
                }
                let mut acc = operands.pop().expect("at least one operand");
                while let Some(op) = ops.pop() {
                    let lhs = operands.pop().expect("one operand per operator");
                    acc = infix(lhs, (op, acc));
                }
                acc
            })
            .boxed();
        let mul = pow
            .clone()
            .foldl(
                choice((
                    op(Token::Star, InfixOp::Mul),
                    op(Token::Slash, InfixOp::Div),
                    op(Token::Percent, InfixOp::Rem),
                ))
                .then(operand(pow))
                .repeated(),
                infix,
            )
            .boxed();
        let add = mul
            .clone()
            .foldl(
                choice((
                    op(Token::Plus, InfixOp::Add),
                    op(Token::Minus, InfixOp::Sub),
                ))
                .then(operand(mul))
                .repeated(),
                infix,
            )
            .boxed();
        let cmp = add
            .clone()
            .then(
                choice((
                    op(Token::Lt, InfixOp::Lt),
                    op(Token::Lte, InfixOp::Lte),
                    op(Token::Gt, InfixOp::Gt),
                    op(Token::Gte, InfixOp::Gte),
                ))
                .then(operand(add))
                .or_not(),
            )
            .map(move |(lhs, rest)| match rest {
                Some(rest) => infix(lhs, rest),
                None => lhs,
            })
            .boxed();
        let eq = cmp
            .clone()
            .foldl(
                choice((op(Token::Eq, InfixOp::Eq), op(Token::Neq, InfixOp::Neq)))
                    .then(operand(cmp))
                    .repeated(),
                infix,
            )
            .boxed();
        let and = eq
            .clone()
            .foldl(
                op(Token::And, InfixOp::And).then(operand(eq)).repeated(),
                infix,
            )
            .boxed();
        and.clone()
            .foldl(
                op(Token::Or, InfixOp::Or).then(operand(and)).repeated(),
                infix,
            )
            .labelled("a value")
    })
}

/// Problems found while shaping arguments, emitted as parse errors by the caller.
type Problems = Vec<(Span, String)>;

fn named_args(args: Vec<Arg>, problems: &mut Problems) -> Vec<NamedArg> {
    args.into_iter()
        .filter_map(|arg| match (arg.name, arg.value) {
            (Some(name), value) => Some(NamedArg {
                name,
                value: Some(value),
            }),
            (
                None,
                Expr {
                    kind: ExprKind::Name(name),
                    ..
                },
            ) => Some(NamedArg { name, value: None }),
            (None, value) => {
                problems.push((
                    value.span,
                    "a field of a constructor is `name = value`, or a name alone for a same-named value".into(),
                ));
                None
            }
        })
        .collect()
}

fn positional_args(args: Vec<Arg>, problems: &mut Problems) -> Vec<Expr> {
    args.into_iter()
        .map(|arg| {
            if let Some(name) = arg.name {
                problems.push((
                    name.span,
                    format!(
                        "arguments are passed by position: `{0} = ...` names a field, which only constructors `Name({0} = ...)` take",
                        name.text
                    ),
                ));
            }
            arg.value
        })
        .collect()
}

/// `base.name(args)`: a method call, or `Mod.Name(f = v)`, a constructor of a type from a module.
fn method_or_construct(
    base: Expr,
    name: Ident,
    abilities: Option<Vec<Expr>>,
    (args, args_span): (Vec<Arg>, Span),
    problems: &mut Problems,
) -> ExprKind {
    if is_upper(&name) {
        if let Some(mut path) = as_path(&base) {
            path.parts.push(name);
            return ExprKind::Construct {
                ty: path,
                fields: named_args(args, problems),
                args_span,
            };
        }
    }
    ExprKind::Property {
        base: Box::new(base),
        // Any `field = value` makes a copy, whose other fields may be written as a name alone.
        op: if name.text == "copy" && args.iter().any(|a| a.name.is_some()) {
            PropertyOp::Copy {
                keyword: name.span,
                fields: named_args(args, problems),
            }
        } else {
            PropertyOp::Method {
                name,
                abilities: abilities.unwrap_or_default(),
                args: positional_args(args, problems),
                args_span,
            }
        },
    }
}

/// `A.B.c` as a path, when the expression is only names and fields.
fn as_path(expr: &Expr) -> Option<Path> {
    match &expr.kind {
        ExprKind::Name(name) => Some(Path {
            parts: vec![name.clone()],
        }),
        ExprKind::Property {
            base,
            op: PropertyOp::Field(field),
        } => {
            let mut path = as_path(base)?;
            path.parts.push(field.clone());
            Some(path)
        }
        _ => None,
    }
}

/// Types: `u32`, `Name`, `Mod.Name`, `[]T`, `?T`, `*T`, `%T`, `⊤`, `⊥`, and arrows.
pub(super) fn ty<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, Type, Extra<'t, 's>> + Clone {
    recursive(|ty| {
        let basic = recursive(|basic| {
            let wrapped = |prefix: Token<'s>, make: fn(Box<Type>, Span) -> Type| {
                just(prefix)
                    .ignore_then(basic.clone())
                    .map_with(move |inner, e| make(Box::new(inner), e.span()))
            };
            choice((
                just(Token::Top).map_with(|_, e| Type::Top(e.span())),
                just(Token::Bottom).map_with(|_, e| Type::Bottom(e.span())),
                just(Token::LBracket)
                    .then(just(Token::RBracket))
                    .ignore_then(basic.clone())
                    .map_with(|inner, e| Type::Array(Box::new(inner), e.span())),
                wrapped(Token::Question, Type::Option),
                wrapped(Token::Star, Type::Stream),
                wrapped(Token::Percent, Type::StreamMap),
                path().map(Type::Named),
                just(Token::LParen)
                    .then(just(Token::RParen))
                    .map_with(|_, e| e.span())
                    .validate(|span, _, emitter| {
                        emitter.emit(Rich::custom(
                            span,
                            Problem::new("`()` is not a type")
                                .label("`()` only stands after `->`, for no results")
                                .help("write a type such as `string` or `u32` here"),
                        ));
                        // The line is dropped with its error.
                        Type::Top(span)
                    }),
                // A parenthesized arrow inside another arrow: `(A -> B) -> C`.
                ty.clone()
                    .delimited_by(just(Token::LParen), just(Token::RParen)),
            ))
            .labelled("a type")
        });
        arrow(ty.clone(), basic.clone(), false)
            .map(|arrow| Type::Arrow(Box::new(arrow)))
            .or(basic)
            .labelled("a type")
    })
}

/// An arrow type: `{Ab} A, B -> C`, `(a: A) -> C, D`, `-> ()`. With `names_required`, the
/// parameters must be `(name: Type, ...)` and the result part may be absent (functions,
/// closures, service methods).
fn arrow<'t, 's: 't, I: TokenInput<'t, 's>>(
    ty: impl Parser<'t, I, Type, Extra<'t, 's>> + Clone + 't,
    basic: impl Parser<'t, I, Type, Extra<'t, 's>> + Clone + 't,
    names_required: bool,
) -> impl Parser<'t, I, ArrowType, Extra<'t, 's>> + Clone {
    // A comma that starts the next `name: Type` parameter ends a result list (a colon that
    // ends the line opens a block instead).
    let next_item =
        just(Token::Comma).then_ignore(any_name().then(just(Token::Colon)).then(any()).not());
    let type_list = basic
        .clone()
        .separated_by(next_item.clone())
        .at_least(1)
        .collect::<Vec<_>>();
    let results = choice((
        just(Token::LParen).then(just(Token::RParen)).to(Vec::new()),
        ty.clone()
            .separated_by(next_item)
            .at_least(1)
            .collect::<Vec<_>>(),
    ));
    let param_type = just(Token::Colon).ignore_then(ty.clone());
    let in_parens = |param: Boxed<'t, 's, I, Param>| {
        param
            .separated_by(just(Token::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Token::LParen), just(Token::RParen))
    };
    let named_params = in_parens(
        any_name()
            .then(param_type.clone())
            .map(|(name, ty)| Param {
                name: Some(name),
                ty,
            })
            .boxed(),
    );
    let abilities = path()
        .separated_by(just(Token::Comma))
        .at_least(1)
        .collect::<Vec<_>>()
        .delimited_by(just(Token::LBrace), just(Token::RBrace))
        .or_not()
        .map(Option::unwrap_or_default);
    let params = if names_required {
        // A name alone has no type (in a type, `(A)` is a type in parentheses instead).
        let param = any_name()
            .then(choice((
                param_type.map(Some),
                one_of([Token::Comma, Token::RParen]).rewind().to(None),
            )))
            .validate(|(name, ty), _, emitter| {
                let ty = ty.unwrap_or_else(|| {
                    emitter.emit(Rich::custom(
                        name.span,
                        Problem::new(format!("the argument `{}` has no type", name.text))
                            .label(format!("write `{}: Type`", name.text))
                            .help(
                                "every argument of a function names its type, as in `count: u32`",
                            ),
                    ));
                    // The line is dropped with its error.
                    Type::Top(name.span)
                });
                Param {
                    name: Some(name),
                    ty,
                }
            });
        in_parens(param.boxed()).boxed()
    } else {
        let unnamed = type_list.map(|types| {
            types
                .into_iter()
                .map(|ty| Param { name: None, ty })
                .collect()
        });
        choice((named_params, unnamed))
            .or_not()
            .map(Option::unwrap_or_default)
            .boxed()
    };
    let result_part = keyword_then(
        Token::RArrow,
        results,
        Problem::new("`->` needs the result type after it")
            .label("write the result type after `->`")
            .help("as in `-> string`; a function that returns nothing has no `->`"),
        |_| Vec::new(),
    );
    let result_part = if names_required {
        result_part.or_not().map(Option::unwrap_or_default).boxed()
    } else {
        result_part.boxed()
    };
    abilities
        .then(params)
        .then(result_part)
        .map_with(|((abilities, params), results), e| ArrowType {
            abilities,
            params,
            results,
            span: e.span(),
        })
}

/// The arrow of a function or closure head: `{Ab}(a: A, b: B) -> R`.
fn named_arrow<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, ArrowType, Extra<'t, 's>> + Clone {
    let ty = ty();
    arrow(ty.clone(), ty, true)
}

/// A header line.
pub(super) fn header_line<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, HeaderItem, Extra<'t, 's>> + Clone {
    let dotted = any_name()
        .separated_by(just(Token::Dot))
        .at_least(1)
        .collect::<Vec<_>>()
        .map(|parts| Path { parts });
    // An alias is one name; a dotted one is read whole to say so.
    let alias =
        just(Token::As)
            .ignore_then(dotted.clone())
            .validate(|mut alias: Path, _, emitter| {
                if alias.parts.len() > 1 {
                    let last = alias.parts.last().map_or("", |p| p.text.as_str());
                    emitter.emit(Rich::custom(
                        alias.span(),
                        Problem::new(format!(
                            "`{}` is not a valid alias: an alias is one name, without dots",
                            alias
                                .parts
                                .iter()
                                .map(|p| p.text.as_str())
                                .collect::<Vec<_>>()
                                .join(".")
                        ))
                        .label(format!("write a single name, such as `{last}`")),
                    ));
                }
                alias.parts.pop().expect("a path has a part")
            });
    let import_names = dotted
        .then(alias.or_not())
        .map(|(name, alias)| ImportName { name, alias })
        .separated_by(just(Token::Comma))
        .at_least(1)
        .collect::<Vec<_>>();
    let declares = just(Token::Declares).ignore_then(choice((
        just(Token::Star).map_with(|_, e| Declares::All(e.span())),
        any_name()
            .separated_by(just(Token::Comma))
            .at_least(1)
            .collect::<Vec<_>>()
            .map(Declares::Names),
    )));
    let module = choice((just(Token::Aqua).to(false), just(Token::Module).to(true)))
        .map_with(|legacy, e| (legacy, e.span()))
        .then(path())
        .then(declares.or_not())
        .map_with(
            |(((legacy, keyword), name), declares), e| HeaderItem::Module {
                legacy,
                keyword,
                name,
                declares,
                span: e.span(),
            },
        );
    let import = just(Token::Import)
        .ignore_then(import_names.clone().then_ignore(just(Token::From)).or_not())
        .then(string())
        .map_with(|(names, path), e| HeaderItem::Import {
            names,
            path,
            span: e.span(),
        });
    let use_ = just(Token::Use)
        .ignore_then(import_names.clone().then_ignore(just(Token::From)).or_not())
        .then(string())
        .then(just(Token::As).ignore_then(path()).or_not())
        .map_with(|((names, path), alias), e| HeaderItem::Use {
            names,
            path,
            alias,
            span: e.span(),
        });
    let export = just(Token::Export)
        .ignore_then(import_names)
        .map_with(|names, e| HeaderItem::Export {
            names,
            span: e.span(),
        });
    choice((module, import, use_, export)).then_ignore(end())
}

/// The first line of a top-level definition; `Data`, `Service`, `Ability` and `Func` get
/// their fields or body from the line's children.
pub(super) fn definition_line<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, Item, Extra<'t, 's>> + Clone {
    let colon = just(Token::Colon).labelled("`:`");
    let data = just(Token::Data)
        .ignore_then(ident())
        .then_ignore(colon)
        .map_with(|name, e| Item::Data {
            name,
            fields: Vec::new(),
            span: e.span(),
        });
    let alias = just(Token::Alias)
        .ignore_then(ident())
        .then_ignore(colon)
        .then(ty())
        .map_with(|(name, ty), e| Item::Alias {
            name,
            ty,
            span: e.span(),
        });
    let constant = just(Token::Const)
        .ignore_then(ident())
        .then(choice((
            just(Token::Assign).to(false),
            just(Token::AssignDefault).to(true),
        )))
        .then(expr())
        .map_with(|((name, overridable), value), e| Item::Const {
            name,
            overridable,
            value,
            span: e.span(),
        });
    let service = just(Token::Service)
        .ignore_then(ident())
        .then(
            expr()
                .delimited_by(just(Token::LParen), just(Token::RParen))
                .or_not(),
        )
        .then_ignore(colon)
        .map_with(|(name, default_id), e| Item::Service {
            name,
            default_id,
            methods: Vec::new(),
            span: e.span(),
        });
    let ability = just(Token::Ability)
        .ignore_then(ident())
        .then_ignore(colon)
        .map_with(|name, e| Item::Ability {
            name,
            fields: Vec::new(),
            span: e.span(),
        });
    let func = just(Token::Func)
        .ignore_then(any_name())
        .then(named_arrow())
        .then_ignore(colon)
        .map_with(|(name, arrow), e| {
            Item::Func(Func {
                name,
                arrow,
                body: Block::default(),
                span: e.span(),
            })
        });
    choice((data, alias, constant, service, ability, func)).then_ignore(end())
}

/// A line of a `data`, `ability` or `service` body: `name: Type` or `name(a: A) -> R`.
pub(super) fn field_line<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, Field, Extra<'t, 's>> + Clone {
    any_name()
        .then(choice((
            just(Token::Colon).ignore_then(ty()),
            named_arrow().map(|arrow| Type::Arrow(Box::new(arrow))),
        )))
        .then_ignore(end())
        .map_with(|(name, ty), e| Field {
            name,
            ty,
            span: e.span(),
        })
}

/// A statement line. The returned flag tells whether the line opens a block (ends with `:`).
pub(super) fn statement_line<'t, 's: 't, I: TokenInput<'t, 's>>(
) -> impl Parser<'t, I, (Stmt, bool), Extra<'t, 's>> + Clone {
    let colon = just(Token::Colon).labelled("`:`");
    let block = Block::default;
    let values = expr()
        .separated_by(just(Token::Comma))
        .at_least(1)
        .collect::<Vec<_>>();
    let via = keyword_then(
        Token::Via,
        expr(),
        Problem::new("`via` needs the relay to go through")
            .label("write the relay after `via`")
            .help("as in `on peer via relay:`; each `via` names one relay"),
        error_expr,
    )
    .repeated()
    .collect::<Vec<_>>();
    let for_item = choice((
        var_name()
            .then_ignore(just(Token::Comma))
            .then(var_name())
            .map(|(k, v)| ForItem::Pair(k, v)),
        var_name().map(ForItem::Single),
    ));
    recursive(|stmt| {
        let opening = choice((
            keyword_then(
                Token::On,
                expr(),
                Problem::new("`on` needs the peer to run the block on")
                    .label("write the peer after `on`")
                    .help("as in `on peer:`, or `on peer via relay:` to reach it through a relay"),
                error_expr,
            )
            .then(via.clone())
            .map(move |(peer, via)| StmtKind::On {
                peer,
                via,
                body: block(),
            }),
            just(Token::For)
                .ignore_then(for_item.clone())
                .then_ignore(just(Token::LArrow))
                .then(expr())
                .then(
                    choice((
                        just(Token::Par).to(ForMode::Par),
                        just(Token::Try).to(ForMode::Try),
                        just(Token::Rec).to(ForMode::Rec),
                    ))
                    .or_not(),
                )
                .map(move |((item, iterable), mode)| StmtKind::For {
                    item,
                    iterable,
                    mode,
                    body: block(),
                }),
            just(Token::Parseq)
                .ignore_then(for_item)
                .then_ignore(just(Token::LArrow))
                .then(expr())
                .then_ignore(just(Token::On))
                .then(expr())
                .then(via)
                .map(move |(((item, iterable), peer), via)| StmtKind::Parseq {
                    item,
                    iterable,
                    peer,
                    via,
                    body: block(),
                }),
            keyword_then(
                Token::If,
                expr(),
                Problem::new("`if` needs a condition")
                    .label("write the condition after `if`")
                    .help("as in `if ok:` or `if count > 0:`"),
                error_expr,
            )
            .map(move |condition| StmtKind::If {
                condition,
                body: block(),
            }),
            just(Token::Else).map(move |_| StmtKind::Else { body: block() }),
            just(Token::Try).map(move |_| StmtKind::Try { body: block() }),
            keyword_then(
                Token::Catch,
                var_name(),
                Problem::new("`catch` needs a name for the error it catches")
                    .label("name the error after `catch`")
                    .help("as in `catch e:`; the block reads `e.message` and `e.error_code`"),
                |span| Ident {
                    text: String::new(),
                    span,
                },
            )
            .map(move |name| StmtKind::Catch {
                name,
                body: block(),
            }),
            just(Token::Otherwise).map(move |_| StmtKind::Otherwise { body: block() }),
            var_name()
                .then_ignore(just(Token::Assign))
                .then(just(Token::Func).or_not())
                .then(named_arrow())
                .map_with(move |((name, detached), arrow), e| StmtKind::Closure {
                    func: Func {
                        name: name.clone(),
                        arrow,
                        body: block(),
                        span: e.span(),
                    },
                    name,
                    detached: detached.is_some(),
                }),
        ))
        .then_ignore(colon)
        .map(|kind| (kind, true));

        let prefixed = choice((
            just(Token::Par)
                .ignore_then(stmt.clone())
                .map(|(inner, opens): (Stmt, bool)| (StmtKind::Par(Box::new(inner)), opens)),
            just(Token::Co)
                .ignore_then(stmt)
                .map(|(inner, opens): (Stmt, bool)| (StmtKind::Co(Box::new(inner)), opens)),
        ));

        let simple = choice((
            just(Token::Join)
                .ignore_then(values.clone())
                .map(|values| StmtKind::Join { values }),
            just(Token::LArrow)
                .ignore_then(values.clone())
                .map(|values| StmtKind::Return { values }),
            var_name()
                .then_ignore(just(Token::Colon))
                .then(ty())
                .map(|(name, ty)| StmtKind::Declare { name, ty }),
            var_name()
                .then_ignore(just(Token::Push))
                .then(expr())
                .then(just(Token::Comma).ignore_then(expr()).or_not())
                .map(|((target, first), second)| match second {
                    Some(value) => StmtKind::Push {
                        target,
                        key: Some(first),
                        value,
                    },
                    None => StmtKind::Push {
                        target,
                        key: None,
                        value: first,
                    },
                }),
            var_name()
                .then_ignore(just(Token::Assign))
                .then(expr())
                .map(|(name, value)| StmtKind::Assign { name, value }),
            path()
                .filter(|path: &Path| path.parts.last().is_some_and(is_upper))
                .then(expr())
                .map(|(service, id)| StmtKind::ServiceId { service, id }),
            var_name()
                .separated_by(just(Token::Comma))
                .at_least(1)
                .collect::<Vec<_>>()
                .then(just(Token::LArrow).map_with(|_, e| e.span()))
                .then(expr())
                .map(|((results, arrow), value)| StmtKind::Call {
                    results,
                    arrow: Some(arrow),
                    value,
                }),
            expr().map(|value| StmtKind::Call {
                results: Vec::new(),
                arrow: None,
                value,
            }),
        ))
        .map(|kind| (kind, false));

        choice((prefixed, opening, simple))
            .map_with(|(kind, opens), e| {
                (
                    Stmt {
                        kind,
                        span: e.span(),
                    },
                    opens,
                )
            })
            .boxed()
    })
    .then_ignore(end())
}
