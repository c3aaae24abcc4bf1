"""`mnist_core.model.verdict`: the one rule for "a digit", "not sure" and "not a digit"."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.model.card import Reading
from mnist_core.model.verdict import (
    NOT_NAMED,
    TWO_DIGITS_AT_LEAST,
    Kind,
    ReadingPolicy,
    judge,
    temper,
)
from mnist_core.reading.inference import Readings


def one_hot_ish(top: int, p: float) -> np.ndarray:
    probabilities = np.full(10, (1 - p) / 9)
    probabilities[top] = p
    return probabilities


def test_policy_from_a_cards_reading_and_its_checks():
    assert Reading().policy == ReadingPolicy(1.0, 0.6)
    reading = Reading.from_json({"temperature": 1.4, "min_probability": 0.93, "fitted_on": "x"})
    assert reading.policy == ReadingPolicy(1.4, 0.93)
    with pytest.raises(ValueError, match="temperature"):
        ReadingPolicy(0.0)
    with pytest.raises(ValueError, match="min_probability"):
        ReadingPolicy(1.0, 1.5)


def test_a_digit_is_named_only_from_the_threshold_up():
    policy = ReadingPolicy(1.0, 0.9)
    rows = np.stack([one_hot_ish(3, 0.95), one_hot_ish(5, 0.9), one_hot_ish(8, 0.89)])
    assert policy.named_digits(rows).tolist() == [3, 5, NOT_NAMED]
    assert policy.named_digits(np.zeros((0, 10))).shape == (0,)


def test_calibrate_scales_by_the_policys_temperature():
    rows = np.stack([one_hot_ish(2, 0.99), one_hot_ish(6, 0.7)])
    np.testing.assert_allclose(ReadingPolicy(2.5, 0.5).calibrate(rows), temper(rows, 2.5))
    np.testing.assert_allclose(ReadingPolicy().calibrate(rows), rows, rtol=1e-6)


def test_a_named_digit_is_the_verdict_with_its_probability():
    verdict = judge(one_hot_ish(3, 0.95), named=3)
    assert verdict.kind is Kind.DIGIT and verdict.digit == 3
    assert verdict.probabilities[0] == pytest.approx(0.95)


def test_two_digits_holding_most_of_the_belief_are_not_sure_with_both_candidates():
    p = np.zeros(10)
    p[4], p[9], p[1] = 0.45, 0.40, 0.15
    verdict = judge(p, named=NOT_NAMED)
    assert verdict.kind is Kind.NOT_SURE and verdict.digit is None
    assert verdict.candidates == (4, 9)
    assert verdict.probabilities == pytest.approx((0.45, 0.40))


def test_belief_spread_over_many_digits_is_not_a_digit():
    assert judge(np.full(10, 0.1), named=NOT_NAMED).kind is Kind.NOT_A_DIGIT
    # just under and just at the share two digits must hold
    p = np.full(10, 0.0)
    p[0], p[1] = TWO_DIGITS_AT_LEAST / 2 - 0.01, TWO_DIGITS_AT_LEAST / 2
    p[2:] = (1 - p[:2].sum()) / 8
    assert judge(p, named=NOT_NAMED).kind is Kind.NOT_A_DIGIT
    p[0] += 0.01
    p[2:] = (1 - p[:2].sum()) / 8
    assert judge(p, named=NOT_NAMED).kind is Kind.NOT_SURE


@pytest.mark.parametrize("bad", [np.ones(9) / 9, np.full(10, np.nan)])
def test_judge_refuses_anything_but_ten_finite_probabilities(bad):
    with pytest.raises(ValueError, match="10 finite probabilities"):
        judge(bad, named=NOT_NAMED)


def test_readings_give_each_row_its_verdict():
    rows = np.stack([one_hot_ish(7, 0.97), np.full(10, 0.1)])
    readings = Readings(rows, ReadingPolicy(1.0, 0.9).named_digits(rows))
    assert [readings.verdict(i).kind for i in range(2)] == [Kind.DIGIT, Kind.NOT_A_DIGIT]
    assert readings.verdict(0).digit == 7

