"""The estimators: ``ULMFiTClassifier``, ``ULMFiTLanguageModel``, their parameters, stage 2, ``lr_find``, plots."""
