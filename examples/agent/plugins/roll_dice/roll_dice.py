#!/usr/bin/env python3
"""roll_dice: a sipvoice-agent plugin (the contract is examples/agent/PLUGINS.md).

Reads {"sides": 6, "count": 2} on stdin (both optional) and prints {"say": "..."}, a sentence for the
caller, on stdout. Try it by hand:

    echo '{"count": 3}' | ./roll_dice.py
"""
import json
import random
import sys


def whole(value, default, low, high, what):
    """The argument as an int in [low, high]. The agent checks the manifest's schema before it runs
    a plugin, but a plugin run by hand is not checked, and 3.0 passes as an integer there."""
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}")
    return value


def article(n):
    """ "an 8", "an 11", "an 18", "an 80", but "a 1", "a 7": it is read aloud."""
    spoken_with_vowel = str(n).startswith("8") or n in (11, 18)
    return "an" if spoken_with_vowel else "a"


def sentence(rolls, sides):
    """ "You rolled a 4." / "You rolled 2, 5 and 6 on 8-sided dice, for a total of 13." """
    dice = ""
    if sides != 6:  # the die everybody means when they say "a die" goes without saying
        dice = f" on {article(sides)} {sides}-sided die" if len(rolls) == 1 else f" on {sides}-sided dice"
    if len(rolls) == 1:
        return f"You rolled {article(rolls[0])} {rolls[0]}{dice}."
    listed = ", ".join(str(r) for r in rolls[:-1]) + f" and {rolls[-1]}"
    return f"You rolled {listed}{dice}, for a total of {sum(rolls)}."


def main():
    try:
        args = json.load(sys.stdin)
        if not isinstance(args, dict):
            raise ValueError("the arguments must be a JSON object")
        sides = whole(args.get("sides"), 6, 2, 1000, "sides")
        count = whole(args.get("count"), 1, 1, 10, "count")
    except ValueError as e:  # json.JSONDecodeError is a ValueError too
        print(json.dumps({"error": str(e)}))
        return
    dice = random.SystemRandom()
    rolls = [dice.randint(1, sides) for _ in range(count)]
    print(json.dumps({"say": sentence(rolls, sides)}))


if __name__ == "__main__":
    main()
