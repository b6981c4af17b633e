"""Is an answer grounded? Every number it quotes must appear in what the data showed:
an Execute output, the data profile, or the question itself. Small models otherwise
answer with numbers copied from examples or made up."""

import re

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def numbers(text: str) -> list[str]:
    return [m.group(0) for m in _NUMBER.finditer(text)]


def value(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def decimals(token: str) -> int:
    return len(token.split(".", 1)[1]) if "." in token else 0


def ungrounded(answer: str, evidence: list[str]) -> list[str]:
    """The numbers in `answer` that no evidence text supports, allowing the answer to
    round (2 decimals of 0.21345 is 0.21), to drop a trailing .0, or to be a percentage
    of a fraction shown (21.7 % of 0.217)."""
    seen: list[float] = []
    for text in evidence:
        for tok in numbers(text):
            v = value(tok)
            if v is not None:
                seen.append(v)
    missing = []
    for tok in numbers(answer):
        v = value(tok)
        if v is None or abs(v) <= 10:  # small counts and ordinals need no evidence
            continue
        d = decimals(tok)
        tol = 0.5 * 10**-d + 1e-9
        if not any(
            abs(v - x) <= tol or abs(v - 100 * x) <= tol or abs(-v - x) <= tol for x in seen
        ):
            missing.append(tok)
    return missing
