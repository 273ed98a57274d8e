// Numbers, durations and clock times as people say them, and back.
//
// The parse functions take what a caller said, either as the recognizer wrote it ("Set a timer for
// 10 min.", "at 7:30 a.m.") or in the normalized form of tools.hpp ("set a timer for ten minutes").
// Both go through words_to_digits first, so every rule below holds for digits and for words alike.
//
// Tokens. Text is lower-cased; letters, digits and inner apostrophes make words ("what's",
// "o'clock"; the typographic apostrophe counts); a '.' or ':' between digits stays inside the number
// ("2.5", "7:30"); a ',' before a group of exactly three digits is a thousands separator ("1,000");
// a digit followed by a letter starts a new word ("10min" -> "10 min", "7pm" -> "7 pm"). The
// arithmetic symbols + - * / ^ % ( ) = stay as words of their own (so that "5+3" keeps its
// meaning); a '-' between two letters or between a letter and a digit is a hyphen and becomes a
// space ("twenty-three"). ×, ÷ and the minus sign U+2212 become * / -, and so does an x between
// two digits ("5x3" -> "5 * 3"; a lone "x" stays a word). Anything else is a space.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sipvoice::agent {

// The text as words one space apart (see Tokens above) with the spoken numbers in digits:
//   "what is seventeen times twenty three" -> "what is 17 times 23"
//   "one hundred and five" -> "105", "a thousand" -> "1000", "twelve thousand three hundred" -> "12300"
//   "two point five" -> "2.5", "point five" -> "0.5", "one and a half" -> "1.5", "two dozen" -> "24"
//   "five hundred" and "5 hundred" -> "500", "1.5 million" -> "1500000", "1,000" -> "1000"
// Rules worth knowing:
//  - numbers said one after the other stay apart ("seven thirty" -> "7 30", "one two three" ->
//    "1 2 3"): only the usual English compounds join (tens + unit, "hundred", scale words, "and"
//    after "hundred" or a scale word and before the rest of the number);
//  - "zero" is 0; "oh" is a 0 only between a number and a digit, and then it sticks to the digit
//    ("seven oh five" -> "7 05", "two point oh five" -> "2.05"); elsewhere "oh" is the interjection;
//  - "a"/"an" is 1 only before hundred, thousand, million, billion, trillion, dozen, hour, minute or
//    second ("an hour" -> "1 hour", "a thousand" -> "1000") and not after "half" ("half an hour"
//    stays); everywhere else "a" stays;
//  - "point" is a decimal point only before a digit word;
//  - a scale word that cannot join the phrase before it multiplies it, as it would a number in
//    digits ("one thousand one thousand" -> "1001000", "5 hundred" -> "500"), up to 64 digits;
//    this makes words_to_digits idempotent: words_to_digits(words_to_digits(x)) == words_to_digits(x).
std::string words_to_digits(std::string_view text);

// The first duration in the text, in seconds: "ten minutes", "for 10 min", "an hour", "a minute",
// "one and a half hours", "an hour and a half", "half an hour", "a quarter of an hour", "90 seconds",
// "1 hour 30 minutes", "two hours and fifteen minutes", "1.5 days". Units: second(s), sec(s),
// minute(s), min(s), hour(s), hr(s), h, day(s); the parts of one duration follow each other, joined
// by nothing, "and" or a comma. Fractions of a second are rounded. nullopt when there is none, or
// when it is longer than 10 years (nobody sets a timer for that; it is a misheard number).
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

struct clock_time {
    int hour = 0;    // 0..23
    int minute = 0;  // 0..59
    friend bool operator==(const clock_time&, const clock_time&) = default;
};

// The first clock time in the text (24 h). A time counts only with a marker, so that "in ten
// minutes" or "five plus three" is not one: "at" before it ("at 7", "at seven thirty", "at 19:00",
// "at half past six", "at quarter to eight", "at ten past nine", "at around 7"), or after it "am" /
// "pm" (also "a m", "a.m."), "o'clock", "in the morning" (am), "in the afternoon", "in the evening",
// "at night", "tonight" (pm); "noon", "midday" and "midnight" are times by themselves ("12 noon").
// An hour without am/pm is returned as said (0..23): "at 7" is 7:00 and the caller picks the next
// occurrence or asks. With pm, 1..11 become 13..23 and 12 pm is noon; with am, 12 am is midnight
// and an hour above 12 is not a time. 24:00 is 0:00. "at 730" and "at 1900" (from "nineteen
// hundred") are 7:30 and 19:00. A bare number after "at" followed by a unit ("at 5 minutes",
// "at 10 percent") is not a time.
std::optional<clock_time> parse_clock_time(std::string_view text);

// A number as a speech synthesizer should read it: digits, no separators, at most 3 decimals
// (rounded, trailing zeros cut), "minus" for negatives: 391 -> "391", -4 -> "minus 4", 2.5 -> "2.5",
// 1.0/3 -> "0.333", 0.0001 -> "0" (as to 3 decimals). From 10^15 on the digits would be a mouthful
// and no longer exact: 1.2e15 -> "1.2 quadrillion", 3e18 -> "3 quintillion", and from 10^21 on
// "1.5 times 10 to the power of 21" (mantissa to 3 decimals). NaN and infinities are not numbers to
// say; they come out as "not a number" and "infinity" rather than as garbage.
std::string spoken_number(double v);

// "10 minutes", "1 minute", "1 hour and 1 minute", "1 hour, 2 minutes and 5 seconds",
// "45 seconds", "24 hours" (no days: people set timers in hours). 0 -> "0 seconds"; a negative
// duration is said with "minus" in front.
std::string spoken_duration(std::chrono::seconds s);

}  // namespace sipvoice::agent
