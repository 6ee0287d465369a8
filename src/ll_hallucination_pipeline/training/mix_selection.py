"""Fine-tuning examples chosen by what the base model knows: a recipe's ``[data] knowledge`` mix drawn from a
question pool by each item's SliCK category, and a held-out slice of the pool that no mix trains on (where the
learning curves measure accuracy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..utils import PipelineInputError
from .recipe import KnowledgeMix

HELDOUT_SEED = 0  # the held-out slice is the same for every mix of a pool


def qa_example(doc: dict[str, Any], category: str, item: int) -> dict[str, Any]:
    """A pool item as an instruction record: the question, and as the answer an NQ-schema item's first answer or an
    ARC-schema item's correct choice's text; its category and index in the pool kept beside them."""
    from ..inference import arc_choice_item, item_id

    if "answer" in doc:
        answer = doc["answer"][0]
    else:
        asked = arc_choice_item(doc)
        answer = asked.choices[asked.correct]
    return {
        "instruction": doc["question"],
        "output": answer,
        "id": item_id(doc),
        "item": item,
        "category": category,
    }


def heldout_items(categories: Sequence[str], per_category: int) -> list[int]:
    """The pool items held out of every mix: ``per_category`` of each category (all of a smaller one), drawn
    with a fixed seed."""
    import numpy as np

    rng = np.random.default_rng(HELDOUT_SEED)
    held = []
    for category in dict.fromkeys(categories):
        items = [n for n, c in enumerate(categories) if c == category]
        held += [int(n) for n in rng.permutation(items)[:per_category]]
    return sorted(held)


def select_mix(categories: Sequence[str], held_out: Sequence[int], mix: KnowledgeMix, *, recipe: str) -> list[int]:
    """The pool items the mix trains on, in a seeded random order: for each group of categories the mix wants
    (:meth:`KnowledgeMix.wanted`), that many of the pool's items outside ``held_out``. Too few is an error that
    says how many the probe found."""
    import numpy as np

    rng = np.random.default_rng(mix.seed)
    excluded = set(held_out)
    chosen: list[int] = []
    for group, wanted in mix.wanted().items():
        available = [n for n, c in enumerate(categories) if c in group and n not in excluded]
        if wanted > len(available):
            found = ", ".join(f"{c} {sum(1 for n in available if categories[n] == c)}" for c in group)
            raise PipelineInputError(
                f"recipe {recipe}: [data] knowledge asks for {wanted} {' / '.join(group)} examples of {mix.pool}, "
                f"but the base model's probe found {len(available)} outside the held-out slice ({found}); lower "
                "size or unknown_fraction, or knowledge.heldout"
            )
        chosen += [int(n) for n in rng.choice(available, wanted, replace=False)]
    return [chosen[i] for i in rng.permutation(len(chosen))]
