"""`switchyard bench`: Switchyard against a raw consumer loop and a Faust app on the same
records, the 3-step workflow over HTTP, scaling runs and profiles; results and plots in
``bench/results/`` (docs/benchmarks.md). The peers live in ``bench.peers``.

Import rule (docs/architecture.md): the stack launcher and every layer below it; never
the fault suite (a sibling layer) or the CLI.
"""
