# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Measuring the project's costs: what a network costs on the CPU and the machine a measurement ran on.

A library for the benchmark commands (``scripts.benchmark_networks``) and the network comparison
(:mod:`scripts.comparison.costs`); it imports no command. Times on a shared machine are noisy: compare ratios from
one run, not absolute times across runs.
"""
