"""Structure first: which candidate lines add up to the total. Pure arithmetic on Decimals.

The reader takes lines by their labels; a discount among the items goes to the line it
is printed under (or names). When the result does not add up, these searches decide
instead: a line whose amount breaks the sum is not an item (a phone, a numbering range, a
resolution number read as one), and a receipt whose total has a label the reader does not
know still has one: the amount that the lines above it add up to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import combinations

__all__ = ["MAX_DROPPED", "breaking_lines", "discounted_line", "total_line"]

# Words of a line discount's label that name no product ("Bonif. 2da unidad 50%").
_QUALIFIERS = frozenset({
    "unidad", "unidades", "segunda", "segundo", "tercera", "tercer", "otra", "otro", "item",
    "items", "articulo", "producto", "llevando", "lleva", "llevar", "compra", "precio",
    "especial", "socio", "socios", "club", "tarjeta", "cliente", "clientes", "unit", "each",
    "desconto",
})

MAX_DROPPED = 2  # more than this and the "match" is more likely chance than structure
MAX_SEARCH = 64  # lines; beyond this only single lines are tried (bounded work)


def breaking_lines(amounts: Sequence[Decimal], target: Decimal,
                   suspects: Sequence[int] = ()) -> tuple[int, ...] | None:
    """The fewest lines (at most `MAX_DROPPED`) whose removal makes `amounts` add up to
    `target`; lines in `suspects` (read outside the item block) are tried first. None when
    no such set exists, or when two different sets of the same size would do (ambiguous)."""
    excess = sum(amounts, Decimal(0)) - target
    if excess <= 0:
        return None
    order = [*suspects, *(i for i in range(len(amounts)) if i not in set(suspects))]
    for size in range(1, MAX_DROPPED + 1):
        if size > 1 and len(amounts) > MAX_SEARCH:
            break
        found = [combo for combo in combinations(order, size)
                 if sum((amounts[i] for i in combo), Decimal(0)) == excess]
        if found:
            preferred = [c for c in found if set(c) <= set(suspects)]
            pick = preferred or found
            if len({frozenset(c) for c in pick}) > 1:
                return None
            return tuple(sorted(pick[0]))
    return None


def total_line(amounts: Sequence[Decimal], reduction: Decimal = Decimal(0)) -> int | None:
    """The index of the first line that equals the sum of the lines above it (less
    `reduction`, the discounts): the total whose label was not known. At least two lines
    must be above it, so a lone repeated price is not taken for a total."""
    running = Decimal(0)
    for index, amount in enumerate(amounts):
        if index >= 2 and amount == running - reduction and amount > 0:
            return index
        running += amount
    return None


def discounted_line(label: str, descriptions: Sequence[str],
                    is_discount_word: Callable[[str], bool]) -> int:
    """Which line a discount printed among the items belongs to: the last one (-1), unless
    its label (folded) names another line's product (`DESC. OFERTA OREO` under the bananas)."""
    words = {w for w in re.split(r"[\W\d_]+", label) if len(w) >= 4}
    words = {w for w in words if w not in _QUALIFIERS and not is_discount_word(w)}
    if not words or not descriptions or words & set(descriptions[-1].split()):
        return -1
    for index in range(len(descriptions) - 2, -1, -1):
        if words & set(descriptions[index].split()):
            return index
    return -1
