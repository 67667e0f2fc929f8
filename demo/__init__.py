"""The demo's data: synthetic documents with recorded analyses and ground truth (not part of the installed package:
`make demo`, the tests and the benchmarks use it from the repository)."""
