"""Grading a completion against a gold answer, standard library only: the final answer is the last `\\boxed{…}`,
reasoning sits in `<think>…</think>`.

Self-contained on purpose: `seethink export verl` ships this file's text as the cluster's reward module, into
EasyR1's environment, where seethink (and its transformers pin) is not installed. Symbolic equivalence is passed
in (`seethink.rewards` gives math-verify in a worker process under a hard time limit; the export, math-verify in
process). All parsing is linear-time string scanning (no regex backtracking, no eval), so adversarial completions
(10,000 nested braces, huge numbers, unterminated tags) return at once.
"""

from __future__ import annotations

from fractions import Fraction

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_ANSWER_CHARS = 200  # longer boxed content is treated as no answer (the paper scores over-complex answers 0)
MAX_NUMBER_DIGITS = 30
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
"""The paper's answer format, spelt once: reasoning inside these tags, then the final answer in `\\boxed{}`."""
BOXED = "\\boxed"


def boxed(answer) -> str:
    """`\\boxed{answer}`."""
    return f"{BOXED}{{{answer}}}"


def formatted(reasoning: str, answer) -> str:
    """A completion in the answer format: `<think>reasoning</think>\\boxed{answer}`."""
    return f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{boxed(answer)}"


def extract_boxed(text: str) -> str | None:
    """Content of the last-starting complete `\\boxed{…}` (braces matched), or None. One pass over the text."""
    stack: list[int] = []  # for each open brace: content start if it opened a \boxed, else -1
    best_start, best_end = -1, -1  # content span of the last-starting complete box
    for j, ch in enumerate(text):
        if ch == "{":
            stack.append(j + 1 if j >= len(BOXED) and text.startswith(BOXED, j - len(BOXED)) else -1)
        elif ch == "}" and stack:
            start = stack.pop()
            if start > best_start:
                best_start, best_end = start, j
    return None if best_start == -1 else text[best_start:best_end].strip()


def think_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the first `<think>…</think>` block's content, or None."""
    a = text.find(THINK_OPEN)
    if a == -1:
        return None
    b = text.find(THINK_CLOSE, a)
    return None if b == -1 else (a + len(THINK_OPEN), b)


def format_ok(text: str) -> bool:
    span = think_span(text)
    if span is None or text[: span[0] - len(THINK_OPEN)].strip():
        return False
    return extract_boxed(text[span[1] + len(THINK_CLOSE) :]) is not None


def _strip_wrappers(s: str) -> str:
    s = s.strip()
    for prefix in ("\\text{", "\\mathrm{", "\\textbf{"):
        if s.startswith(prefix) and s.endswith("}"):
            s = s[len(prefix) : -1].strip()
    s = s.strip().rstrip(".").strip()
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        s = s[1:-1].strip()
    if s.lower().startswith("option "):
        s = s[len("option ") :].strip()
    return s


def parse_number(s: str) -> Fraction | None:
    s = _strip_wrappers(s).replace(",", "").replace(" ", "")
    if s.startswith("\\frac{") and s.endswith("}") and "}{" in s:
        num, den = s[len("\\frac{") : -1].split("}{", 1)
        s = f"{num}/{den}"
    if not s or sum(ch.isdigit() for ch in s) > MAX_NUMBER_DIGITS or not all(ch in "0123456789.-+/" for ch in s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def mcq_choice(answer: str, options: list[str]) -> int | None:
    """Index of the single option named by `answer` (letter or exact text), or None if none or several."""
    s = _strip_wrappers(answer)
    letters = LETTERS[: len(options)]
    if len(s) == 1 and s in letters:
        return letters.index(s)
    if (
        len(s) >= 2
        and s[0] in letters
        and s[1] in ".):"
        and s[2:].strip().lower() == options[letters.index(s[0])].lower()
    ):
        return letters.index(s[0])
    named = [i for i, o in enumerate(options) if s.lower() == o.lower()]
    return named[0] if len(named) == 1 else None


def accuracy(completion: str, answer: str, options: list[str] | None = None, symbolic=None) -> float:
    """`symbolic(gold, pred) -> bool`: the last resort for LaTeX/operator answers (none: such answers score 0)."""
    pred = extract_boxed(completion)
    if pred is None or len(pred) > MAX_ANSWER_CHARS:
        return 0.0
    if options:
        gold = mcq_choice(answer, options)
        return float(gold is not None and mcq_choice(pred, options) == gold)
    a, b = parse_number(pred), parse_number(answer)
    if a is not None and b is not None:
        return float(a == b)
    p, g = _strip_wrappers(pred), _strip_wrappers(answer)
    if p.lower() == g.lower():
        return 1.0
    if symbolic is None or not (_mathy(p) or _mathy(g)):
        return 0.0
    return float(symbolic(g, p))


MATH_CHARS = frozenset("\\^_{}()+-*/=<>[]|")


def _mathy(s: str) -> bool:
    """Worth a symbolic comparison: LaTeX or an operator, not a word ("blue") or a number with a unit."""
    return any(ch in MATH_CHARS for ch in s)


# ---------------------------------------------------------------- before a symbolic comparison

MAX_CHARS = 80  # longer answers are compared as strings only
_BANNED = ("!", "\\prod", "\\sum", "\\binom", "\\int", "\\lim", "\\infty")


def plausible(expr: str) -> bool:
    """Cheap refusal of inputs that are too long or can blow up (factorials, big or nested powers)."""
    if len(expr) > MAX_CHARS or any(b in expr for b in _BANNED):
        return False
    powers = expr.count("^") + expr.count("**")
    if powers > 3:
        return False
    i = expr.find("^")
    while i != -1:  # a numeric exponent has at most 2 digits; an exponent holds no further power
        tail = expr[i + 1 :].lstrip()
        if tail.startswith("{"):
            depth, j = 0, 0
            for j, ch in enumerate(tail):
                depth += (ch == "{") - (ch == "}")
                if depth == 0:
                    break
            body, rest = tail[1:j], tail[j + 1 :]
        else:
            body, rest = tail[:1], tail[1:]
        if "^" in body or "**" in body or sum(ch.isdigit() for ch in body) > 2 or rest.lstrip().startswith("^"):
            return False  # 10^{10^{10}}, 2^{999}, 9^9^9
        i = expr.find("^", i + 1)
    return True
