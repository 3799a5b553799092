"""The composed-query generator: deterministic for a seed, every relevant product satisfies its rule
(and every product that satisfies the rule is relevant), with the stated grade (property tests)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.offline.composed import (
    COMPOSED,
    IMAGE,
    TEXT,
    ProductAttributes,
    change_text,
    composed_relevance,
    generate_queries,
)

ATTRIBUTE_VALUES = {
    "article_type": ["Tshirts", "Dresses", "Jeans"],
    "gender": ["Men", "Women", "Unisex"],
    "base_colour": ["Red", "Blue", "Black", ""],
    "season": ["Summer", "Winter"],
    "usage": ["Casual", "Formal", "Sports"],
}

product_rows = st.lists(
    st.fixed_dictionaries({name: st.sampled_from(values) for name, values in ATTRIBUTE_VALUES.items()}),
    min_size=0,
    max_size=40,
)


def catalogue(rows):
    return [ProductAttributes(id=1000 + 7 * i, **row) for i, row in enumerate(rows)]


def expected_grade(query, reference, product) -> int:
    """The rules of surveys.offline.composed.RULES, written out independently."""
    if query.kind == COMPOSED:
        attribute, value = query.change
        gender = value if attribute == "gender" else reference.gender
        if (
            product.id == reference.id
            or product.article_type != reference.article_type
            or product.gender != gender
            or getattr(product, attribute) != value
        ):
            return 0
        same = "base_colour" if attribute == "usage" else "usage"
        return 2 if getattr(product, same) == getattr(reference, same) else 1
    if query.kind == IMAGE:
        if product.id == reference.id or (product.article_type, product.base_colour) != (
            reference.article_type,
            reference.base_colour,
        ):
            return 0
        return 2 if product.usage == reference.usage else 1
    colour, usage, article_type, _for, gender = query.text.split(" ")
    if (product.base_colour.lower(), product.article_type.lower(), product.gender.lower()) != (
        colour,
        article_type,
        gender,
    ):
        return 0
    return 2 if product.usage.lower() == usage else 1


@settings(max_examples=150, deadline=None)
@given(rows=product_rows, seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6))
def test_every_relevant_product_satisfies_its_rule_and_every_match_is_relevant(rows, seed, n):
    products = catalogue(rows)
    by_id = {p.id: p for p in products}
    queries = generate_queries(products, n_per_kind=n, seed=seed)
    for query in queries:
        assert query.qrels, "a query with no relevant product must not be produced"
        reference = by_id.get(query.reference_id)
        if query.kind == COMPOSED:
            attribute, value = query.change
            assert query.text == change_text(attribute, value)
            assert value != getattr(reference, attribute), "the change names a value the reference lacks"
        for product in products:
            assert query.qrels.get(product.id, 0) == expected_grade(query, reference, product), (
                query.rule,
                product,
            )
        assert "Relevant:" in query.rule
    for kind in (COMPOSED, TEXT, IMAGE):
        assert sum(q.kind == kind for q in queries) <= n


@settings(max_examples=60, deadline=None)
@given(rows=product_rows, seed=st.integers(0, 2**32 - 1))
def test_the_generator_is_deterministic_for_a_seed_and_ignores_row_order(rows, seed):
    products = catalogue(rows)
    first = generate_queries(products, n_per_kind=5, seed=seed)
    again = generate_queries(list(reversed(products)), n_per_kind=5, seed=seed)
    assert [(q.qid, q.text, q.reference_id, q.qrels) for q in first] == [
        (q.qid, q.text, q.reference_id, q.qrels) for q in again
    ]


def test_a_composed_query_reads_like_the_issue_example():
    products = catalogue(
        [
            {
                "article_type": "Dresses",
                "gender": "Women",
                "base_colour": "Blue",
                "season": "Summer",
                "usage": "Casual",
            },
            {
                "article_type": "Dresses",
                "gender": "Women",
                "base_colour": "Red",
                "season": "Summer",
                "usage": "Casual",
            },
            {
                "article_type": "Dresses",
                "gender": "Women",
                "base_colour": "Red",
                "season": "Winter",
                "usage": "Formal",
            },
            {
                "article_type": "Jeans",
                "gender": "Women",
                "base_colour": "Red",
                "season": "Summer",
                "usage": "Casual",
            },
        ]
    )
    # "in red" from the blue casual dress: the red casual dress 2, the red formal dress 1, jeans 0.
    assert composed_relevance(products, products[0], "base_colour", "Red") == {1007: 2, 1014: 1}
    queries = generate_queries(products, n_per_kind=10, seed=1, kinds=(COMPOSED,))
    from_blue = next(q for q in queries if q.reference_id == 1000)
    attribute, value = from_blue.change
    assert f"Dresses, Women, {attribute} = {value}." in from_blue.rule
