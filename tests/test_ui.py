"""`app_ui.ui`: a model card as labelled facts; the visitor's address, direct or behind a
proxy."""

from __future__ import annotations

import re

import app_ui.ui
import app_ui.visitor
from mnist_core.model.card import ModelCard


def test_a_card_is_shown_as_a_few_labelled_facts():
    card = ModelCard(architecture="cnn", params=289066, test_accuracy=0.9946,
                     trained_on="MNIST training set", train_images=54000, epochs_run=15,
                     created="2026-11-22T05:23:59Z")
    assert app_ui.ui.card_facts(card) == [
        ("Network", "cnn"), ("Parameters", "289,066"), ("MNIST test accuracy", "99.46%"),
        ("Trained on", "MNIST training set (54,000 images)"), ("Epochs", "15"),
        ("Trained", "2026-11-22"),
    ]
    assert app_ui.ui.card_markdown(card).split("  \n")[:2] == [
        "**Network:** cnn", "**Parameters:** 289,066"]
    ensemble = card.replace(architecture="ensemble", params=867198,
                            hyperparameters={"architecture": "cnn"},
                            members=[{"init_seed": seed} for seed in (0, 1, 2)])
    facts = dict(app_ui.ui.card_facts(ensemble))
    assert facts["Network"] == "3 `cnn` networks, their probabilities averaged"
    assert facts["Epochs"] == "15 each"
    assert app_ui.ui.card_markdown(ModelCard(name="bare")).startswith("No model card")


def test_the_client_address_is_the_socket_peer_or_what_the_named_proxy_header_appended():
    address_from = app_ui.visitor.address_from
    headers = {"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}
    assert address_from("10.0.0.1", headers, None) == "10.0.0.1"  # no proxy configured
    assert address_from("10.0.0.1", headers, "X-Forwarded-For") == "203.0.113.9"
    assert address_from("10.0.0.1", {}, "X-Forwarded-For") == "10.0.0.1"  # header missing
    assert address_from(None, {"X-Real-IP": " 198.51.100.2 "}, "X-Real-IP") == "198.51.100.2"


def test_a_card_read_through_its_int8_graph_claims_no_speed_up_the_figures_do_not_hold():
    # the speed-up depends on the machine and on what else a reading does: the README
    # and docs/results.md give the measured figure, the card claims none of its own
    card = ModelCard(architecture="cnn", int8={"val_images": 8998, "val_errors": 23,
                                                "float_val_errors": 23})
    said = dict(app_ui.ui.card_facts(card))["Read through"]
    assert said == ("its int8 graph, quicker than its float one: 23 of 8,998 validation "
                    "digits wrong, 23 in float")
    assert not re.search(r"twice|\d(\.\d+)?\s*[x×]|times as fast", said)


def test_a_visitor_whose_address_is_unknown_counts_as_one_shared_address_never_none():
    # Streamlit gives no address for a connection from this host (a proxy beside the
    # server that sends no header, AppTest): all such visitors share one address
    address_from = app_ui.visitor.address_from
    assert address_from(None, {}, None) == "unknown"
    assert address_from(None, {}, "X-Forwarded-For") == "unknown"  # header not sent
    assert address_from(None, {"X-Forwarded-For": " , "}, "X-Forwarded-For") == "unknown"
    assert address_from("", {}, None) == "unknown"
