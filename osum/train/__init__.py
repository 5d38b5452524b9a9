"""Training: OSUMTask (ESPnet's AbsTask, whose Trainer trains the model) and the shims ESPnet
needs at import."""
