"""The benchmark scripts in `bench/` on their tiniest settings: they run and write sane JSON.

Each script's `main()` runs against a private copy of the session's small model store
(`seed-cnn` trained on the committed MNIST subset) and writes into a temporary folder.
Timings depend on the machine, so no test asserts one; only that the figures exist and
lie where they must.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import accuracy, common, distill, latency, number, scans, serving_onnx, training, why
from mnist_core.model.card import ModelCard
from mnist_core.model.verdict import NOT_NAMED
from mnist_core.reading.inference import SQUEEZES, Readings
from mnist_core.reading.preprocess import canvas_to_mnist, naive_resize, prepare_mnist
from mnist_core.sources.data import load_mnist
from mnist_core.sources.pendigits import default_pendigits_path, load_pendigits, render_dataset

from .conftest import SUBSET_DIR

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"
# The full file where this machine has it (50 digits are drawn from it), else the
# committed excerpt (30 digits).
PENDIGITS = default_pendigits_path() if default_pendigits_path().is_file() else SAMPLE


@pytest.fixture
def store(subset_model_store, tmp_path):
    """The subset model as `cnn` (the default), and a copy whose card says pendigits
    (and doodles among its non-digits)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("cnn", "pen-tuned"):
        for suffix in (".keras", ".onnx", ".json"):
            shutil.copy(subset_model_store / f"seed-cnn{suffix}", folder / f"{name}{suffix}")
    card_file = folder / "pen-tuned.json"
    card = json.loads(card_file.read_text())
    card["trained_on"] = "MNIST training set + pendigits (rendered)"
    card["pen_writers"] = list(range(1, 16))
    card["hyperparameters"]["non_digit_kinds"] = ["letter", "doodle"]
    card_file.write_text(json.dumps(card))
    return folder


def read_result(folder: Path, name: str) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def check_machine(result: dict) -> None:
    machine = result["machine"]
    assert machine["cpu"] and machine["logical_cores"] >= 1
    assert machine["tensorflow"] and machine["keras"] and machine["date"]


def check_stats(figures: dict, n: int) -> None:
    assert figures["n"] == n
    assert 0 < figures["min_ms"] <= figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]


def test_accuracy_scores_every_model_and_skips_pendigits_trained_ones(store, tmp_path, capsys):
    out = tmp_path / "results"
    code = accuracy.main([
        "--models-dir", str(store), "--data-dir", str(SUBSET_DIR), "--pendigits",
        str(PENDIGITS), "--limit", "50", "--results-dir", str(out),
    ])
    assert code == 0
    result = read_result(out, "accuracy")
    check_machine(result)
    assert result["default_model"] == "cnn"
    n = min(50, len(load_pendigits(PENDIGITS)))
    assert result["pendigits"]["n"] == n == sum(result["pendigits"]["class_counts"])
    rows = {row["name"]: row for row in result["models"]}
    assert set(rows) == {"cnn", "pen-tuned"}

    cnn = rows["cnn"]
    assert not cnn["trained_on_pendigits"]
    assert cnn["mnist_test"]["n"] == 500 == result["mnist"]["n"]
    # predict_proba on prepare_mnist reproduces the card's figure (scored by Keras)
    assert cnn["mnist_test"]["accuracy"] == pytest.approx(cnn["card_test_accuracy"], abs=0.0021)
    for key in accuracy.VARIANTS:
        drawn = cnn["drawn"][key]
        assert 0.0 <= drawn["accuracy"] <= 1.0 and drawn["n"] == n
        assert len(drawn["per_class"]) == 10 and sum(drawn["class_counts"]) == n
        assert all(p is None or 0.0 <= p <= 1.0 for p in drawn["per_class"])
        for confusion in drawn["top_confusions"]:
            assert confusion["true"] != confusion["predicted"] and confusion["count"] > 0

    pen = rows["pen-tuned"]
    assert pen["trained_on_pendigits"] and pen["drawn"] is None
    assert pen["drawn_excluded"] == "trained on these"
    # Each model is scored on the drawn digits of the writers it never saw.
    assert pen["unseen_writers"] and min(pen["unseen_writers"]) >= 16
    assert 0 < pen["drawn_unseen"]["n"] < n == cnn["drawn_unseen"]["n"]
    assert cnn["drawn_unseen"]["accuracy"] == cnn["drawn"]["centred"]["accuracy"]
    for row in (cnn, pen):
        reading = row["drawn_reading"]
        assert 0 <= reading["named_share"] <= 1 and 0 <= reading["ece"] <= 1
        assert 0 <= row["mnist_reading"]["named_share"] <= 1
        assert 0 <= row["non_digits_refused"] <= 1
        untrained = row["untrained_non_digits_refused"]
        assert set(untrained) == {"all", "symbol", "word"}
        assert all(0 <= share <= 1 for share in untrained.values())
        assert min(untrained.values()) <= untrained["all"] <= max(untrained.values())
        assert 0 <= row["doodles_refused"] <= 1
    assert pen["trained_on_doodles"] and not cnn["trained_on_doodles"]
    assert result["non_digits"]["n"] == accuracy.NON_DIGITS
    assert result["untrained_non_digits"]["n"] == accuracy.UNTRAINED
    assert result["doodles"]["n"] == accuracy.DOODLES
    printed = capsys.readouterr().out
    assert "trained on these" in printed and "Drawn accuracy by digit" in printed
    assert "What the app says" in printed and "non-digits refused" in printed
    assert "symbols, words refused" in printed and "doodles refused" in printed
    assert printed.count("(trained)") == 1  # pen-tuned's doodle figure flatters it


def test_number_reads_numbers_of_unseen_writers_only(store, tmp_path, capsys):
    out = tmp_path / "results"
    code = number.main([
        "--models-dir", str(store), "--pendigits", str(PENDIGITS), "--count", "12",
        "--results-dir", str(out),
    ])
    assert code == 0
    result = read_result(out, "number")
    check_machine(result)
    rows = {row["name"]: row for row in result["models"]}
    assert set(rows) == {"cnn", "pen-tuned"}  # the default, and a model of some writers
    assert min(rows["pen-tuned"]["unseen_writers"]) >= 16
    for row in rows.values():
        assert row["n"] == 12
        for key in ("exact", "segmented", "naive_exact", "digits_named"):
            assert 0 <= row[key] <= 1
        check_stats(row["read_5_digits"], number.TIMED_CALLS)
    assert "exact number" in capsys.readouterr().out


def test_why_times_the_map_and_the_layers_of_a_models_layers_graph(store, tmp_path, capsys):
    from mnist_core.__main__ import main

    out = tmp_path / "results"
    args = ["--models-dir", str(store), "--models", "cnn", "--results-dir", str(out),
            "--pendigits", str(PENDIGITS), "--quick"]
    assert why.main(args) == 2  # saved before layers graphs: said so
    assert "layers --name cnn" in capsys.readouterr().err
    assert main(["--models-dir", str(store), "layers", "--name", "cnn"]) == 0
    assert why.main(args) == 0
    result = read_result(out, "why")
    check_machine(result)
    figures = result["cnn"]
    assert figures["label"] == "the model" and result["settings"]["drawings"] == 5
    assert 1 < figures["images_read_per_map_stride2"] < 145  # blank places are not read
    for what in ("map_stride2", "map_stride3", "layers", "map_stride2_served_graph",
                 "all_three"):
        check_stats(figures[what], 20)
    assert figures["map_and_layers_p50_ms"] == pytest.approx(
        figures["map_stride3"]["p50_ms"] + figures["layers"]["p50_ms"])
    said = capsys.readouterr().out
    assert "neighbours are left out: no index" in said and not figures["neighbours"]
    assert "cnn: map and layers p50" in said

    assert main(["--models-dir", str(store), "--data-dir", str(SUBSET_DIR), "index",
                 "--name", "cnn"]) == 0
    assert why.main(args) == 0
    figures = read_result(out, "why")["cnn"]
    assert figures["neighbours"]
    check_stats(figures["all_three"], 20)
    assert "cnn: map, layers and neighbours p50" in capsys.readouterr().out


def test_scans_reads_every_kind_of_image_through_the_upload_path(store, tmp_path, capsys):
    out = tmp_path / "results"
    code = scans.main(["--models-dir", str(store), "--data-dir", str(SUBSET_DIR),
                       "--limit", "20", "--models", "cnn", "--results-dir", str(out)])
    assert code == 0
    result = read_result(out, "scans")
    check_machine(result)
    [row] = result["models"]
    assert set(row["kinds"]) == set(scans.KINDS) and result["mnist"]["n"] == 20
    for figures in row["kinds"].values():
        assert 0.5 <= figures["accuracy"] <= 1  # the subset model reads most of them
        assert 0 <= figures["named_share"] <= 1 and figures["unreadable"] == 0
    assert "phone photo" in capsys.readouterr().out


def test_every_kind_of_scan_still_shows_the_digit():
    """Each kind's image, read back through the upload path, is the same digit as the
    MNIST image it was made from (not the shadow, paper or noise)."""
    _, (x_test, _) = load_mnist(str(SUBSET_DIR))
    reference = prepare_mnist(x_test[:10])
    for kind in scans.KINDS:
        views, readable = scans.prepare_kind(kind, x_test[:10], seed=0)
        assert readable.all(), kind
        if kind == "16x16 b/w stretched":  # not the same shape, but read squeezed too
            assert all(len(v) == 1 + len(SQUEEZES) for v in views)
            continue
        assert all(len(v) == 1 for v in views) or kind.startswith(("16x16", "32x32")), kind
        similarity = [np.corrcoef(v[0].ravel(), b.ravel())[0, 1] for v, b in zip(views, reference)]
        assert np.median(similarity) > 0.75, (kind, similarity)


def test_drawings_are_render_datasets_own(tmp_path):
    # The benchmark renders one digit at a time; the drawings must be render_dataset's.
    digits = load_pendigits(SAMPLE)[:6]
    drawn = accuracy.prepare_drawn(digits, seed=3)
    varied, _ = render_dataset(digits, seed=3)
    fixed, _ = render_dataset(digits, varied=False)
    for i in range(len(digits)):
        np.testing.assert_array_equal(drawn["centred"][0][i], canvas_to_mnist(varied[i]))
        np.testing.assert_array_equal(drawn["naive_resize"][0][i], naive_resize(varied[i]))
        np.testing.assert_array_equal(drawn["fixed_render"][0][i], canvas_to_mnist(fixed[i]))
    assert all(readable.all() for _, readable in drawn.values())


def test_trained_on_pendigits_reads_the_card():
    assert accuracy.trained_on_pendigits(ModelCard(trained_on="MNIST + PenDigits"))
    assert accuracy.trained_on_pendigits(ModelCard(trained_on="MNIST + pen digits"))
    assert not accuracy.trained_on_pendigits(ModelCard(trained_on="MNIST training set"))
    assert not accuracy.trained_on_pendigits(ModelCard())


def test_serving_onnx_times_the_three_paths_and_the_web_process(store, tmp_path):
    out = tmp_path / "results"
    code = serving_onnx.main(["--models-dir", str(store), "--pendigits", str(PENDIGITS),
                              "--quick", "--no-browser", "--results-dir", str(out)])
    result = read_result(out, "serving_onnx")
    check_machine(result)
    assert code == 0 and result["model"] == "cnn"
    drawing = result["drawing"]
    check_stats(drawing["onnx"], 50)
    check_stats(drawing["tf"], 50)
    check_stats(drawing["predict"], 10)
    assert result["served_graph"] == "cnn.onnx" and "onnx_float" not in drawing
    assert max(drawing["max_abs_difference_from_float_onnx"].values()) < 1e-4
    check_stats(result["number"]["onnx"], 20)
    check_stats(result["number"]["tf"], 20)
    web = result["web_process_apptest"]
    assert web["imported"] == ["onnxruntime"] and web["rss_mb"] > 0
    assert len(web["shown"]) == 1
    assert "skipped" in result["web_process_streamlit"]


def test_serving_onnx_times_an_int8_graph_beside_its_float_one(store):
    from mnist_core.store import registry
    from mnist_core.training.quantize import quantize_model

    quantize_model("cnn", data=load_mnist(SUBSET_DIR), directory=store)
    models = {"onnx": registry.open_model("cnn", store),
              "onnx_float": registry.open_model("cnn", store, float_graph=True)}
    keras_model = registry.load_model("cnn", store)
    drawings, _ = latency.canvas_drawings(6, 0, PENDIGITS)
    drawing = serving_onnx.time_drawing(models, keras_model, drawings, calls=6,
                                        predict_calls=2)
    for path, calls in (("onnx", 6), ("onnx_float", 6), ("tf", 6), ("predict", 2)):
        check_stats(drawing[path], calls)
    diff = drawing["max_abs_difference_from_float_onnx"]
    assert set(diff) == {"onnx", "tf", "predict"}
    assert diff["tf"] < 1e-4 and 0 < diff["onnx"] < 0.1  # int8: near, not the same
    number = serving_onnx.time_number(models, keras_model, load_pendigits(PENDIGITS), 0, 3)
    assert {"onnx", "onnx_float", "tf"} <= number.keys()

    result = {"drawing": drawing, "number": number,
              "web_process_apptest": {"imported": ["onnxruntime"], "rss_mb": 310.0},
              "web_process_streamlit": {"skipped": "no browser"}}
    rows = {row[0]: row[2] for row in serving_onnx.targets(result)}
    assert rows["web process imports no TensorFlow or Keras"] == "yes"
    assert rows["web process resident <= 300 MB after the first read (AppTest)"] == "NO"
    assert rows["one drawing <= 1 ms p50"] == (
        "yes" if drawing["onnx"]["p50_ms"] <= 1 else "NO")


def test_distill_compares_a_student_with_the_teacher_its_card_names(store, tmp_path):
    card_file = store / "student.json"
    for suffix in (".keras", ".onnx", ".json"):
        shutil.copy(store / f"cnn{suffix}", store / f"student{suffix}")
    card = json.loads(card_file.read_text())
    card["distillation"] = {"teacher": "cnn", "temperature": 2.0, "alpha": 0.5}
    card_file.write_text(json.dumps(card))
    out = tmp_path / "results"
    code = distill.main(["--models-dir", str(store), "--student", "student", "--quick",
                         "--data-dir", str(SUBSET_DIR), "--pendigits", str(PENDIGITS),
                         "--results-dir", str(out)])
    result = read_result(out, "distill")
    check_machine(result)
    assert code == 0 and result["teacher"] == "cnn"
    teacher, student = result["models"]["teacher"], result["models"]["student"]
    assert teacher["validation"]["n"] == 100  # the recipe's 10% of the subset's 1,000
    assert 0 <= teacher["validation"]["errors"] <= 100
    check_stats(teacher["read_one_drawing"], 20)
    check_stats(student["read_one_drawing"], 20)
    for figures in (teacher, student):  # one network twice: every figure but time alike
        del figures["read_one_drawing"]
    assert teacher == student and 0 <= teacher["non_digits_refused"]["all"] <= 1

    card["hyperparameters"]["seed"] = 9  # another split: nothing shared to judge on
    card_file.write_text(json.dumps(card))
    assert distill.main(["--models-dir", str(store), "--student", "student", "--quick",
                         "--data-dir", str(SUBSET_DIR), "--results-dir", str(out)]) == 2


def test_distill_with_int8_compares_a_models_int8_graph_with_its_float_one(store, tmp_path):
    from mnist_core.training.quantize import quantize_model

    out = tmp_path / "results"
    args = ["--models-dir", str(store), "--student", "cnn", "--int8", "--quick",
            "--data-dir", str(SUBSET_DIR), "--pendigits", str(PENDIGITS),
            "--results-dir", str(out)]
    assert distill.main(args) == 2  # no int8 graph yet: says how to make one
    card = quantize_model("cnn", data=load_mnist(SUBSET_DIR), directory=store)
    assert distill.main(args) == 0
    result = read_result(out, "distill")
    assert (result["teacher"], result["student"]) == ("cnn float", "cnn int8")
    teacher, student = result["models"]["teacher"], result["models"]["student"]
    assert student["validation"]["errors"] == card.int8.val_errors
    assert teacher["validation"]["errors"] == card.int8.float_val_errors
    assert student["validation"]["negative_log_likelihood"] != (
        teacher["validation"]["negative_log_likelihood"])  # two graphs, not one read twice


def test_latency_times_both_paths_and_the_draw_page(store, tmp_path):
    out = tmp_path / "results"
    code = latency.main([
        "--models-dir", str(store), "--pendigits", str(PENDIGITS), "--calls", "20",
        "--predict-calls", "5", "--warmup", "2", "--reruns", "3", "--rerun-warmup", "1",
        "--drawings", "5", "--results-dir", str(out),
    ])
    result = read_result(out, "latency")
    check_machine(result)
    assert result["model"] == "cnn" and result["input"]["shape"] == [280, 280, 4]
    paths = result["paths"]
    for path, n in (("proba", 20), ("predict", 5)):
        for part in ("preprocess", "inference", "total"):
            check_stats(paths[path][part], n)
    assert paths["ratio_of_medians"]["total"] > 0
    assert 0 < paths["preprocess_share_of_median"] < 1
    checks = paths["checks"]
    assert checks["max_abs_difference_predict_vs_proba"] < 1e-4
    assert checks["probability_sum_min"] == pytest.approx(1.0, abs=1e-4)
    assert checks["probability_sum_max"] == pytest.approx(1.0, abs=1e-4)

    app = result["app"]
    if not latency.APP.is_file():
        assert "navigation.py" in app["skipped"] and code == 0
        pytest.skip("navigation.py is missing: the Draw-page part was skipped")
    assert code == 0 and "error" not in app, app.get("error")
    assert app["canvas_key"].startswith("draw_canvas")
    check_stats(app["rerun"], 3)
    assert app["prediction_metric_shown"] + app["unsure_warning_shown"] == 3
    assert app["matches_core_reading"] == 3


def test_training_compares_fit_and_train_model(tmp_path):
    out = tmp_path / "results"
    code = training.main([
        "--data-dir", str(SUBSET_DIR), "--arch", "seed-cnn", "--augment",
        "--train-size", "500", "--test-size", "100", "--epochs", "2", "--rounds", "1",
        "--warmup-size", "64", "--results-dir", str(out),
    ])
    assert code == 0
    result = read_result(out, "training")
    check_machine(result)
    assert result["config"]["architecture"] == "seed-cnn" and result["config"]["augment"]
    assert result["data"] | {"source": None} == {
        "source": None, "fit_images": 450, "validation_images": 50, "test_images": 100,
    }
    assert result["order"] == ["model.fit", "train_model"]
    assert result["steady_epochs"] == 1
    for path in ("model.fit", "train_model"):
        (run,) = result["runs"][path]
        assert len(run["epochs"]) == 2
        figures = result["summary"][path]
        for key in ("images_per_s", "train_phase_s", "epoch_s", "first_epoch_s", "run_s"):
            assert figures[key] > 0, key
    assert all(math.isfinite(v) for v in result["overhead_pct"].values())
    check_stats(result["test_scoring"]["seconds"], 3)
    assert result["test_scoring"]["images"] == 100
    # train_model reports at least once at the end of every epoch
    assert result["progress_reports_per_run"][0] >= 2


def test_quick_defaults_give_way_to_explicit_flags():
    args = latency.parse_args(["--quick", "--calls", "7"])
    assert (args.calls, args.reruns) == (7, latency.COUNTS["reruns"][1])
    assert training.parse_args([]).train_size == 12000
    assert training.parse_args(["--quick"]).train_size == 500
    assert accuracy.parse_args(["--quick", "--limit", "9"]).limit == 9
    with pytest.raises(SystemExit):
        training.parse_args(["--validation-split", "0"])


def test_stats_tables_and_json(tmp_path, capsys):
    figures = common.stats([0.003, 0.001, 0.002])
    assert figures["p50_ms"] == pytest.approx(2.0) and figures["n"] == 3
    assert figures["min_ms"] == pytest.approx(1.0) and figures["max_ms"] == pytest.approx(3.0)
    assert len(common.time_calls(lambda: None, calls=4, warmup=2)) == 4
    common.print_table(["model", "acc"], [["cnn", "99.1%"], ["mlp-16-16", "-"]], title="T")
    assert capsys.readouterr().out.splitlines() == [
        "", "T", "model        acc", "---------  -----", "cnn        99.1%", "mlp-16-16      -",
    ]
    path = common.write_json(
        "x", {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan"), "d": tmp_path},
        tmp_path,
    )
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": None,
                                            "d": str(tmp_path)}


def test_leave_writers_out_runs_are_reused_only_for_the_same_recipe():
    from mnist_core.training.config import TrainConfig

    settings = TrainConfig("cnn", epochs=5, pen_writers=(1, 2), non_digits=20).resolved()
    settings = settings.to_dict() | {"pen_writers": [1, 2]}
    older_card = {k: v for k, v in settings.items() if k != "non_digit_kinds"}
    assert accuracy._same_settings(older_card, settings)  # predates the setting: its default
    assert not accuracy._same_settings(older_card, settings | {"non_digit_kinds": ["touching"]})
    assert not accuracy._same_settings(older_card | {"epochs": 15}, settings)
    # settings a card stores beyond a run's config (e.g. the learning-rate schedule) agree
    assert accuracy._same_settings(older_card | {"cosine_decay": True}, settings)


def test_a_reused_run_is_read_at_todays_target_fitted_on_its_own_validation(
    mnist_subset, tmp_path, monkeypatch
):
    from mnist_core.reading.inference import predict_proba
    from mnist_core.store import registry, saving
    from mnist_core.training.calibration import TARGET_SURE_ACCURACY, fit_policy
    from mnist_core.training.run_data import validation_digits
    from mnist_core.training.train import TrainConfig, train_model

    monkeypatch.setattr(accuracy, "FOLDS_DIR", tmp_path)
    config = TrainConfig("mlp-16-16-relu", epochs=1, train_size=500, seed=2).resolved()
    train_model(config, data=mnist_subset, save_as="fold", models_dir=tmp_path)
    card = registry.read_card("fold", tmp_path)
    older = card.replace(reading={"temperature": 3.0, "min_probability": 0.2})  # older target
    saving.write_card("fold", older, tmp_path)

    accuracy.refit_reading("fold", config, mnist_subset[0])
    reading = registry.read_card("fold", tmp_path).reading
    x_val, y_val = validation_digits(config, mnist_subset[0])
    expected = fit_policy(predict_proba(registry.load_model("fold", tmp_path), x_val), y_val)
    assert reading.target == TARGET_SURE_ACCURACY
    assert reading.temperature == pytest.approx(expected.temperature)
    assert reading.min_probability == pytest.approx(expected.min_probability)
    assert reading.fitted_on == "50 validation images of its training run"


def test_reading_figures_count_the_digits_named_wrongly():
    probabilities = np.full((5, 10), 0.1, dtype=np.float32)
    readings = Readings(probabilities, np.array([3, NOT_NAMED, 7, 7, 1]))
    figures = accuracy.reading_figures(readings, np.array([3, 2, 7, 1, 1]))
    assert figures["named"] == 4 and figures["wrong_named"] == 1
    assert figures["named_share"] == pytest.approx(0.8)
    assert figures["accuracy_named"] == pytest.approx(0.75)


def test_a_training_process_is_counted_while_it_exits_and_once_reaped():
    import os
    import subprocess
    import sys
    import time

    from bench.serving import children_cpu_seconds, cpu_seconds

    reaped_before = cpu_seconds(os.getpid(), children=True)
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() "
                              "+ 0.5\nwhile time.process_time() < end: pass"])
    while _state(child.pid) != "Z":  # ended, not yet waited for: no command line left
        time.sleep(0.05)
    assert children_cpu_seconds(os.getpid())[child.pid] >= 0.4
    child.wait()
    assert child.pid not in children_cpu_seconds(os.getpid())
    assert cpu_seconds(os.getpid(), children=True) - reaped_before >= 0.4


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_an_ensemble_default_is_measured_as_an_ensemble_of_runs_without_each_group(
    mnist_subset, tmp_path, monkeypatch
):
    """Leaving writers out of an ensemble means training each of its runs (from the
    run's own seed) without them and averaging those, never scoring one run alone."""
    import argparse

    from mnist_core.store import registry
    from mnist_core.training.ensemble import make_ensemble
    from mnist_core.training.train import TrainConfig, train_model

    recipe = dict(architecture="mlp-16-16-relu", epochs=1, train_size=500, seed=2,
                  pen_renders=1)
    runs, store, folds = tmp_path / "runs", tmp_path / "store", tmp_path / "folds"
    for name, init_seed in (("a", None), ("b", 4)):
        train_model(TrainConfig(**recipe, init_seed=init_seed), data=mnist_subset,
                    save_as=name, models_dir=runs)
    make_ensemble(["a", "b"], "pair", data=mnist_subset, members_dir=runs, models_dir=store)
    monkeypatch.setattr(accuracy, "FOLDS_DIR", folds)
    digits = [d for d in load_pendigits(PENDIGITS) if d.writer in (21, 22)][:40]
    drawn = accuracy.prepare_drawn(digits, seed=0)["centred"]
    args = argparse.Namespace(models_dir=store, data_dir=str(SUBSET_DIR), quick=False,
                              fold_arch=None, fold_epochs=None, fold_ema_momentum=None,
                              groups=["21-30"])

    [row] = accuracy.leave_writer_groups_out(args, "pair", digits, drawn, None)
    names = {info.name for info in registry.list_models(folds)}
    assert names == {"mlp-16-16-relu-1ep-without-writers-21-30",
                     "mlp-16-16-relu-1ep-init4-without-writers-21-30",
                     "mlp-16-16-relu-1ep-x2-without-writers-21-30"}
    assert row["model"] == "mlp-16-16-relu-1ep-x2-without-writers-21-30"
    assert row["architecture"] == "mlp-16-16-relu x2" and row["n"] == len(digits)
    fold = registry.read_card(row["model"], folds)
    assert [m.init_seed for m in fold.members] == [2, 4]
    assert 21 not in fold.pen_writers and 20 in fold.pen_writers
