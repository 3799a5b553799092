"""The pure assignment rules: Latin square, steering, reproducible shuffles."""

from collections import Counter

from surveys import assignment


def test_latin_square_rows_cover_every_cell_once():
    queries, codes = [11, 12, 13, 14, 15, 16], ["A", "B", "C"]
    cells = Counter()
    for row in range(3):
        tasks = assignment.latin_square_row(queries, codes, row)
        assert [query for query, _ in tasks] == queries  # every query once per participant
        cells.update(tasks)
    assert set(cells.values()) == {1}
    assert len(cells) == 18


def test_new_participants_go_to_the_emptiest_row():
    queries, codes = [1, 2, 3], ["A", "B"]
    counts = {cell: 3 for cell in assignment.latin_square_row(queries, codes, 0)}
    counts.update({cell: 1 for cell in assignment.latin_square_row(queries, codes, 1)})
    assert assignment.choose_row(queries, codes, counts, target=5, rotation=0) == 1


def test_row_choice_breaks_ties_by_rotation():
    queries, codes = [1, 2, 3], ["A", "B", "C"]
    assert [assignment.choose_row(queries, codes, {}, target=5, rotation=r) for r in range(4)] == [0, 1, 2, 0]


def test_shuffle_is_reproducible_and_seed_dependent():
    cells = assignment.latin_square_row(list(range(10)), ["A", "B"], 0)
    first = assignment.shuffled_tasks(cells, seed=7, participant_key=3)
    assert first == assignment.shuffled_tasks(cells, seed=7, participant_key=3)
    assert sorted(first) == sorted(cells)
    assert first != assignment.shuffled_tasks(cells, seed=8, participant_key=3)
