"""Files: model payloads and their checksums, fit checkpoints, what ``pretrained=`` means, transfer, 0.1.0's paths."""
