from da_cli.agent.grounding import ungrounded


def test_numbers_present_in_outputs_are_grounded():
    assert ungrounded("There are 5,319 orders.", ["count\n0  5319"]) == []


def test_invented_numbers_are_reported():
    assert ungrounded("Paris had 1520.5, Oslo 980.0.", ["n\n0 5319"]) == ["1520.5", "980.0"]


def test_rounding_and_percentages_are_allowed():
    evidence = ["r = 0.213456", "share 0.2173"]
    assert ungrounded("r is 0.21 and the share is 21.7 %.", evidence) == []


def test_small_numbers_need_no_evidence():
    assert ungrounded("Q3 fell in 2 of 4 regions.", []) == []


def test_numbers_from_the_question_are_evidence():
    assert ungrounded("Sales in 2025 fell.", ["why did 2025 drop?"]) == []
