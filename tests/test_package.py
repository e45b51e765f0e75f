"""The package's surface: what importing it costs, and what it exports."""

import subprocess
import sys

import pytest

import sk_ulmfit


def test_light_modules_import_without_torch_or_fastai():
    code = ("import sys, sk_ulmfit, sk_ulmfit.datasets, sk_ulmfit.inspection; "
            "print(sorted(name for name in ('torch', 'fastai', 'spacy') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_public_names_resolve_on_first_use():
    assert set(sk_ulmfit.__all__) <= set(dir(sk_ulmfit))
    for name in sk_ulmfit.__all__:
        assert getattr(sk_ulmfit, name).__name__ == name
    with pytest.raises(AttributeError, match="NoSuchThing"):
        sk_ulmfit.NoSuchThing  # noqa: B018


def test_pickles_name_the_public_path_only(tmp_path):
    import pickle

    from .conftest import TINY

    clf = sk_ulmfit.ULMFiTClassifier(**TINY, random_state=0).fit(["a b c", "d e f", "a c", "d f"], [0, 1, 0, 1])
    payload = pickle.dumps(clf)
    assert b"sk_ulmfit._" not in payload  # private module paths may change between versions
    assert pickle.loads(payload).predict(["a b"]).shape == (1,)
    texts = ["the cat sat on the mat", "the dog sat on the log"] * 5
    language_model = sk_ulmfit.ULMFiTLanguageModel(emb_size=8, hidden_size=16, n_layers=1, min_freq=1,
                                                   batch_size=2, bptt=4, random_state=0).fit(texts)
    payload = pickle.dumps(language_model)
    assert b"sk_ulmfit._" not in payload
    assert pickle.loads(payload).perplexity(texts) == language_model.perplexity(texts)


# Bottom to top: a module imports from its own layer or the layers below, never above.
LAYERS = (
    ("_atomic", "_distributed", "_validation", "_text", "_model", "_batching", "_lm_data", "_schedule",
     "_sampled_softmax", "datasets", "inspection", "cleaning", "_plots", "_legacy"),
    ("_training", "_inference", "_params"),
    ("_persistence", "_transfer", "_pretrained", "_checkpoints"),
    ("_language_model", "_lm_cache", "_classifier", "_lr_find"),
    ("_corpus", "pretrain"),
    ("_tables", "_clean_server", "_cli", "__main__"),
    ("classifier", "language_model", "model", "text"),  # 0.1.0's paths, for its pickles (see _legacy)
)


def test_imports_run_one_way_at_module_level():
    import ast
    from pathlib import Path

    layer = {name: index for index, names in enumerate(LAYERS) for name in names}
    package = Path(sk_ulmfit.__file__).parent
    assert set(layer) == {path.stem for path in package.glob("*.py")} - {"__init__"}
    for name, index in layer.items():
        tree = ast.parse((package / f"{name}.py").read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert id(node) in top_level, f"{name} imports .{node.module} inside a function"
                targets = [node.module] if node.module else [alias.name for alias in node.names]
                for target in targets:
                    assert layer[target] <= index, f"{name} (layer {index}) imports {target} (layer {layer[target]})"
