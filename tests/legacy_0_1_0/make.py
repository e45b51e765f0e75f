"""Writes this folder's fixtures with sk_ulmfit 0.1.0 (commit fbe43f9^, the last at 0.1.0):

    git worktree add /tmp/v010 fbe43f9^
    cd tests/legacy_0_1_0 && PYTHONPATH=/tmp/v010 python make.py

``tests/test_legacy.py`` loads them with today's code. Tiny networks: a few kB each.
"""

import json
import pickle

import sk_ulmfit
from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel

assert sk_ulmfit.__version__ == "0.1.0", sk_ulmfit.__version__
TEXTS = ["good movie great fun", "bad film awful plot", "great acting good story", "awful boring bad"] * 10
LABELS = ["pos", "neg", "pos", "neg"] * 10
SIZE = {"emb_size": 8, "hidden_size": 8, "n_layers": 1}

language_model = ULMFiTLanguageModel(**SIZE, min_freq=1, batch_size=4, bptt=8, random_state=0).fit(TEXTS)
plain = ULMFiTClassifier(pretrained=None, lm_epochs=0, **SIZE, schedule=(("all", 1, 1e-2),),
                         random_state=0).fit(TEXTS, LABELS)
# stage 2 from a fitted language model, for 2 epochs at 1e-3 (today: an explicit ULMFiTLanguageModel)
staged = ULMFiTClassifier(pretrained=language_model, lm_epochs=2, lm_lr=1e-3, schedule=(("all", 1, 1e-2),),
                          random_state=0).fit(TEXTS, LABELS)
expected = {"texts": TEXTS[:4], "perplexity": language_model.perplexity(TEXTS)}
for name, model in [("classifier", plain), ("classifier_stage2", staged)]:
    with open(f"{name}.pkl", "wb") as file:
        pickle.dump(model, file)
    model.save(f"{name}.pt")
    expected[name] = model.predict_proba(TEXTS[:4]).tolist()
with open("language_model.pkl", "wb") as file:
    pickle.dump(language_model, file)
with open("expected.json", "w") as file:
    json.dump(expected, file, indent=1)
