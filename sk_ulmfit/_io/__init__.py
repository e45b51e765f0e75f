"""Files: model payloads and their checksums, fit checkpoints, what ``pretrained=`` means, transfer."""
