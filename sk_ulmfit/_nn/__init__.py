"""The networks: fastai's AWD-LSTM classifier and language model, the inference network, the sampled softmax, devices."""
