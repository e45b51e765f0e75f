"""Models saved or pickled by sk_ulmfit 0.1.0 load and predict as they did.

The fixtures in ``legacy_0_1_0/`` were written by 0.1.0 itself (``legacy_0_1_0/make.py``):
its pickles name module paths that are private today, and its parameters ``lm_epochs`` and
``lm_lr`` are today's ``language_model``.
"""

import json
import pickle
import warnings
from importlib import import_module
from pathlib import Path

import joblib
import numpy as np
import pytest

import sk_ulmfit
from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel

FIXTURES = Path(__file__).parent / "legacy_0_1_0"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def load_pickle(name):
    with pytest.warns(FutureWarning, match="0.1.0's module paths"):
        return joblib.load(FIXTURES / name)  # joblib reads plain pickles too


@pytest.mark.parametrize("name", ["classifier", "classifier_stage2"])
def test_a_0_1_0_pickle_predicts_as_it_did_and_refits_as_its_parameters_said(name):
    model = load_pickle(f"{name}.pkl")
    np.testing.assert_allclose(model.predict_proba(EXPECTED["texts"]), EXPECTED[name], atol=1e-6)
    params = model.get_params(deep=False)
    assert set(params) == set(ULMFiTClassifier._get_param_names())
    assert params["early_stopping"] is False and params["class_weight"] is None  # added since: defaults
    model.fit(EXPECTED["texts"], ["pos", "neg", "pos", "neg"])  # its parameters are valid today
    assert model.predict_proba(EXPECTED["texts"]).shape == (4, 2)


def test_a_0_1_0_pickle_maps_lm_epochs_to_language_model():
    assert load_pickle("classifier.pkl").language_model is None  # lm_epochs=0
    stage2 = load_pickle("classifier_stage2.pkl").language_model  # lm_epochs=2, lm_lr=1e-3
    assert isinstance(stage2, ULMFiTLanguageModel)
    assert (stage2.epochs, stage2.lr, stage2.drop_mult, stage2.batch_size) == (2, 1e-3, 0.3, 64)


@pytest.mark.parametrize("name", ["classifier", "classifier_stage2"])
def test_a_0_1_0_save_file_loads_with_the_same_parameters_as_its_pickle(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no old module path in a save file
        model = ULMFiTClassifier.load(FIXTURES / f"{name}.pt")
    np.testing.assert_allclose(model.predict_proba(EXPECTED["texts"]), EXPECTED[name], atol=1e-6)
    pickled = load_pickle(f"{name}.pkl").get_params(deep=False)
    for param, value in model.get_params(deep=False).items():
        if param == "language_model" and isinstance(value, ULMFiTLanguageModel):
            assert value.get_params() == pickled[param].get_params()
        elif param != "pretrained":  # a file keeps a fitted model given as pretrained only as a description
            assert value == pickled[param], param


def test_a_0_1_0_language_model_pickle_scores_as_it_did():
    model = load_pickle("language_model.pkl")
    assert model.perplexity(EXPECTED["texts"] * 10) == pytest.approx(EXPECTED["perplexity"], rel=1e-6)
    assert model.extra_texts is None and model.checkpoint_dir is None  # added since: defaults
    assert b"sk_ulmfit._" not in pickle.dumps(model) and b"sk_ulmfit.text" not in pickle.dumps(model)


def test_the_0_1_0_module_paths_warn_and_hand_out_todays_classes():
    with pytest.warns(FutureWarning, match="import the estimators from sk_ulmfit"):
        from sk_ulmfit.classifier import ULMFiTClassifier as old
    assert old is sk_ulmfit.ULMFiTClassifier
    with pytest.raises(AttributeError, match="no attribute 'fit'"):
        import_module("sk_ulmfit.language_model").fit  # noqa: B018
