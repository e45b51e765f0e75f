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


# Bottom to top: a module imports from its own layer or the layers below, never above. A
# layer is a package of the library (or one of its public modules); within a package its
# modules import each other freely.
LAYERS = (
    ("_common", "datasets", "inspection", "cleaning"),
    ("_text",),
    ("_nn",),
    ("_train",),
    ("_io",),
    ("_estimators",),
    ("pretrain",),
    ("_cli", "__main__"),
    ("classifier", "language_model", "model", "text"),  # 0.1.0's paths, for its pickles (see _estimators.compat)
)


def _imported(path, node, package):
    """The top-level parts of sk_ulmfit that a relative ``from`` import in ``path`` names."""
    here = path.relative_to(package).parts[:-1]
    base = list(here[:len(here) - (node.level - 1)]) if node.level > 1 else list(here)
    if node.module:
        return [(base + node.module.split("."))[0]]
    return [(base + [alias.name])[0] for alias in node.names]


def test_imports_run_one_way_at_module_level():
    import ast
    from pathlib import Path

    layer = {name: index for index, names in enumerate(LAYERS) for name in names}
    package = Path(sk_ulmfit.__file__).parent
    tops = {path.relative_to(package).parts[0].removesuffix(".py") for path in package.rglob("*.py")}
    assert tops - {"__init__"} == set(layer)
    for path in package.rglob("*.py"):
        name = path.relative_to(package).parts[0].removesuffix(".py")
        if name == "__init__":
            continue
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                assert id(node) in top_level, f"{path.name} imports {node.module} inside a function"
                for target in _imported(path, node, package):
                    assert layer[target] <= layer[name], (
                        f"{path.relative_to(package)} (layer {layer[name]}) imports {target} (layer {layer[target]})")
