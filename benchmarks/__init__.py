"""Benchmarks: throughput and time-to-accuracy, as ratios against a baseline measured in the same run."""
