"""Text to numbers: the fastai tokenizer and vocabulary, classifier batches, the language-model token stream."""
