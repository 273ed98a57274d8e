// The `calculate` tool: a safe arithmetic evaluator (no eval, no shell, no code: a recursive descent
// parser over numbers and a handful of operators) and the words callers use for arithmetic.
//
// The grammar, loosest first:
//   sum      := product (('+' | '-') product)*
//   product  := unary (('*' | '/') unary)*
//   unary    := ('-' | '+' | 'sqrt') unary | power
//   power    := percent ('^' unary)?             right associative: 2^3^2 = 2^9; -2^2 = -4
//   percent  := primary ('%' ('of' unary)?)*     "15%" = 0.15, "15% of 80" = 12
//   primary  := number | '(' sum ')'
// Numbers: 12, 2.5, .5, 1,000 (a comma before exactly three digits), 1e6. Operator spellings: x X ×
// for '*', ÷ for '/', − (U+2212) for '-', ** for '^'; "sqrt" with or without brackets
// ("sqrt(16)", "sqrt 16"). A trailing '=' or '?' is ignored ("5+3=").
//
// Percentages added or taken away work as on a pocket calculator: "80 + 10%" is 88 and "80 - 10%"
// is 72 (a + b% = a * (1 + b/100)), because that is what a caller means by "eighty plus ten
// percent". Anywhere else a percentage is a fraction: "10% + 80" is 80.1, "50 * 10%" is 5.
//
// Limits, each an error sentence rather than a crash: 256 characters, 32 levels of nesting
// (brackets, signs and powers each count), results beyond a double (2^99999, 1e309), division by
// zero (also 0^-1), and no real answer (sqrt(-1), (-8)^(1/3)).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tools.hpp"

namespace sipvoice::agent {

struct calc_result {
    std::optional<double> value;
    std::string error;  // non-empty when value is nullopt: a sentence fit to be spoken
                        // ("You cannot divide by zero.", "I could not read the expression near \"$\".")
    bool division_by_zero = false;
};

inline constexpr std::size_t max_expression_length = 256;
inline constexpr int max_expression_depth = 32;

// Never throws; value is finite whenever it is set.
calc_result evaluate(std::string_view expression);

// The arithmetic in what a caller said, as an expression evaluate() takes, or nullopt when there is
// none. Words go through words_to_digits (spoken.hpp) first, then:
//   plus -> +, minus -> -, negative -> - (sign), times / multiplied by -> *, x between numbers -> *,
//   divided by / over -> /, to the power of / raised to (the power of) -> ^, squared -> ^ 2,
//   cubed -> ^ 3, (the) square root of -> sqrt, percent / per cent -> %, "of" after a percent,
//   open / left bracket or parenthesis -> (, close / right ... -> ).
// The first run of such words that is a complete expression wins (a dangling operator at its end is
// dropped): "what is seventeen times twenty three" -> "17 * 23", "fifteen percent of eighty" ->
// "15 % of 80", "the square root of sixteen" -> "sqrt 16". A run needs a number and an operator,
// so "ten minutes" and "three times a day" have no arithmetic. A division by zero is still an
// expression ("ten divided by zero" -> "10 / 0"): the tool answers it.
std::optional<std::string> expression_from_speech(std::string_view text);

// The expression said back in words, with its value: "17 times 23 is 391.", "15 percent of 80 is
// 12.", "The square root of 16 is 4.", "(2 plus 3) times 4 is 20." (brackets stay as written: the
// model reads them and speech synthesis skips them). nullopt when it does not evaluate.
std::optional<std::string> spoken_calculation(std::string_view expression);

// The tool `calculate`, arguments {"expression": string}: symbols ("17*23", "(2+3)*4", "15% of
// 80") or words ("seventeen times twenty three": evaluate() first, expression_from_speech() when
// that cannot read it). The result is spoken_calculation(); a division by zero is the answer "You
// cannot divide by zero." (not an error: the model or the rule brain says it); a missing or
// unreadable expression is an error with a one-line reason. Trigger (priority 40): arithmetic
// keywords ("plus", "times", "divided by", "percent of", "square root", "calculate", ...), phrases
// with the numbers in words, arguments from expression_from_speech(); without an expression it asks
// "Which numbers should I calculate?".
tool make_calculate_tool();

}  // namespace sipvoice::agent
