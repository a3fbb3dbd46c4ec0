"""The garbage collector tuned for a crawl: WORKBENCH_GC_THRESHOLD."""

from __future__ import annotations

import gc
import logging

import pytest
from scrapy.settings import Settings

from workbench.core.control import collector


@pytest.fixture
def thresholds():
    collector.restore()  # a crawl earlier in this process may have tuned them
    before = gc.get_threshold()
    yield before
    collector.restore()
    gc.set_threshold(*before)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (10000, 10, 10)),
        ("10000,10,10", (10000, 10, 10)),
        (" 50000 , 20 ", (50000, 20)),
        ("2000", (2000,)),
        ("python", None),
        ("default", None),
        ("", None),
    ],
)
def test_the_setting_names_thresholds_or_pythons_own(value, expected):
    assert collector.parse(value) == expected


@pytest.mark.parametrize("value", ["fast", "1,2,3,4", "0,10,10", "10000,-1", "1e4"])
def test_a_value_that_is_not_thresholds_says_why(value):
    with pytest.raises(ValueError, match=r"expected|threshold"):
        collector.parse(value)


def test_a_crawl_sets_the_thresholds_once_and_restore_puts_back_pythons(thresholds):
    assert collector.tune_for_crawl(Settings()) is True
    assert gc.get_threshold() == (10000, 10, 10)
    assert gc.get_freeze_count() > 0  # what lived before the crawl is out of the way
    # a second crawl in the same process leaves them as they are
    assert collector.tune_for_crawl(Settings({collector.SETTING: "500"})) is False
    assert gc.get_threshold() == (10000, 10, 10)
    collector.restore()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_python_leaves_the_interpreters_thresholds(thresholds):
    assert collector.tune_for_crawl(Settings({collector.SETTING: "python"})) is False
    assert gc.get_threshold() == thresholds


def test_a_bad_value_is_logged_and_changes_nothing(thresholds, caplog):
    with caplog.at_level(logging.WARNING, logger=collector.__name__):
        assert collector.tune_for_crawl(Settings({collector.SETTING: "lots"})) is False
    assert gc.get_threshold() == thresholds
    assert "WORKBENCH_GC_THRESHOLD='lots' ignored" in caplog.text
